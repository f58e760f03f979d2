# As the weak-label config, trained on the true lesion masks (upper bound).
_base_ = ['./contextual-net-3d_dynunet_minilm_phantompet-weak.py']

train_dataloader = dict(dataset=dict(label_source='true'))
