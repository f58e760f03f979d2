# Baseline: partial cross-entropy alone on FashionScenes boxes (background
# outside every box is its only label).
_base_ = './_base_/agmm_deeplabv3plus_r18_fashionscenes.py'
train_dataloader = dict(dataset=dict(weak_label='boxes'))
model = dict(losses=[dict(type='PartialCrossEntropyLoss')])
