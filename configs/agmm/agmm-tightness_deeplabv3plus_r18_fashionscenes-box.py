# AGMM++ on box labels plus the box tightness prior (not in the paper; see
# _base_/box_tightness.py).
_base_ = ['./agmm_deeplabv3plus_r18_fashionscenes-box.py', './_base_/box_tightness.py']
model = dict(losses=_base_.model.losses + [_base_.box_tightness])
