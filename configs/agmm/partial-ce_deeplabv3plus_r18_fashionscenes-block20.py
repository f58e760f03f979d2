# Baseline: partial cross-entropy alone on FashionScenes blocks20.
_base_ = './_base_/agmm_deeplabv3plus_r18_fashionscenes.py'
train_dataloader = dict(dataset=dict(weak_label='blocks20'))
model = dict(losses=[dict(type='PartialCrossEntropyLoss')])
