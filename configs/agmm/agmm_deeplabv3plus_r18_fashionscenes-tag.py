# AGMM++ trained on FashionScenes image-level tags: class activation maps
# (the network's own probabilities) seed the labels and the mixture refines
# them.
_base_ = './_base_/agmm_deeplabv3plus_r18_fashionscenes.py'
train_dataloader = dict(dataset=dict(weak_label='tags'))
model = dict(losses=[dict(_base_.model.losses[0], prior_weight=1.0)])
