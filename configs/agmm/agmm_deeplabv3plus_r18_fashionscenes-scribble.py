# AGMM++ trained on FashionScenes scribbles.
_base_ = './_base_/agmm_deeplabv3plus_r18_fashionscenes.py'
train_dataloader = dict(dataset=dict(weak_label='scribbles'))
