# AGMM as in the CVPR 2023 reference code (sigma = 1, channel-mean L1
# distance, no mixture weights, no online EM) on FashionScenes scribbles, to
# compare with AGMM++ (agmm_deeplabv3plus_r18_fashionscenes-scribble.py).
_base_ = './_base_/agmm_deeplabv3plus_r18_fashionscenes.py'
train_dataloader = dict(dataset=dict(weak_label='scribbles'))
model = dict(losses=[
    dict(type='AGMMLoss',
         num_classes=_base_.model.decode_head.num_classes,
         feat_channels=_base_.model.decode_head.channels,
         reference_mode=True),
])
