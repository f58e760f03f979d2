# AGMM++ on blocks10 labels plus the pairwise colour-affinity loss (not in the
# paper; see _base_/colour_affinity.py).
_base_ = ['./agmm_deeplabv3plus_r18_fashionscenes-block10.py', './_base_/colour_affinity.py']
model = dict(losses=_base_.model.losses + [_base_.colour_affinity])
