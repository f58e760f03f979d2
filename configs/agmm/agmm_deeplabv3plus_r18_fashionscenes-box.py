# AGMM++ trained on FashionScenes boxes: background outside every box; inside
# a box the candidates are background and the box classes, and the mixture's
# posterior decides which cells are object. The fill prior (AGMMLoss's
# default, fill_ratio=dict(box=0.5)) keeps a tight box at least half object.
_base_ = './_base_/agmm_deeplabv3plus_r18_fashionscenes.py'
train_dataloader = dict(dataset=dict(weak_label='boxes'))
