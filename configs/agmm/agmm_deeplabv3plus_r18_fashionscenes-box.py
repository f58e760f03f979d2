# AGMM++ trained on FashionScenes boxes: background outside every box; inside
# a box the candidates are background and the box classes, and the mixture's
# posterior decides (a box class's component starts from its boxes' cells).
_base_ = './_base_/agmm_deeplabv3plus_r18_fashionscenes.py'
train_dataloader = dict(dataset=dict(weak_label='boxes'))
