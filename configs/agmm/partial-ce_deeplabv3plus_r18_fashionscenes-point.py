# Baseline: partial cross-entropy alone on FashionScenes points.
_base_ = './_base_/agmm_deeplabv3plus_r18_fashionscenes.py'
train_dataloader = dict(dataset=dict(weak_label='points'))
model = dict(losses=[dict(type='PartialCrossEntropyLoss')])
