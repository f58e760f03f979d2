# Baseline: partial cross-entropy alone on FashionScenes blocks50.
_base_ = './_base_/agmm_deeplabv3plus_r18_fashionscenes.py'
train_dataloader = dict(dataset=dict(weak_label='blocks50'))
model = dict(losses=[dict(type='PartialCrossEntropyLoss')])
