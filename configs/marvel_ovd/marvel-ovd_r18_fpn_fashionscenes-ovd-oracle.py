# Ablation row 5, the oracle: the same detector (text-embedding classifier,
# weak and strong views) trained on the full train annotations, novel boxes
# included. No pseudo-labels, so mining and reweighting have nothing to do.
_base_ = ['./marvel-ovd_r18_fpn_fashionscenes-ovd.py']
model = dict(mining=False, reweight=False)
train_dataloader = dict(dataset=dict(
    _delete_=True, type='FashionScenesDetDataset',
    data_root='data/fashion_scenes', split='train',
    pipeline={{_base_.train_pipeline}}))
custom_hooks = [
    dict(type='RandomStateHook'),
    dict(type='NonFiniteLossHook'),
    dict(type='WeightsDigestHook'),
]
