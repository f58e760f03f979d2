# AGMM++ on image tags plus the pairwise colour-affinity loss (not in the
# paper; see _base_/colour_affinity.py).
_base_ = ['./agmm_deeplabv3plus_r18_fashionscenes-tag.py', './_base_/colour_affinity.py']
model = dict(losses=_base_.model.losses + [_base_.colour_affinity])
