# AGMM++ on blocks50 labels plus the pairwise colour-affinity loss (not in the
# paper; see _base_/colour_affinity.py).
_base_ = ['./agmm_deeplabv3plus_r18_fashionscenes-block50.py', './_base_/colour_affinity.py']
model = dict(losses=_base_.model.losses + [_base_.colour_affinity])
