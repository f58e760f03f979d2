# AGMM++ on box labels plus both terms of box-supervised instance segmentation
# (BoxInst): the box tightness prior and the pairwise colour affinity (not in
# the paper; see _base_/box_tightness.py and _base_/colour_affinity.py), the
# affinity at weight 3 (colour_affinity_strong).
_base_ = ['./agmm_deeplabv3plus_r18_fashionscenes-box.py', './_base_/box_tightness.py',
          './_base_/colour_affinity.py']
model = dict(losses=_base_.model.losses + [_base_.box_tightness, _base_.colour_affinity_strong])
