# AGMM++ trained on FashionScenes blocks10.
_base_ = './_base_/agmm_deeplabv3plus_r18_fashionscenes.py'
train_dataloader = dict(dataset=dict(weak_label='blocks10'))
