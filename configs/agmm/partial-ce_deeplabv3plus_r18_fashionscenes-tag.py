# Baseline: partial cross-entropy alone on FashionScenes tags. Tags label no
# pixel: partial CE gives no gradient, and this row is the untrained floor.
_base_ = './_base_/agmm_deeplabv3plus_r18_fashionscenes.py'
train_dataloader = dict(dataset=dict(weak_label='tags'))
model = dict(losses=[dict(type='PartialCrossEntropyLoss')])
