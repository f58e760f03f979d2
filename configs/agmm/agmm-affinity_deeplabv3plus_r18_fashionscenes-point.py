# AGMM++ on point labels plus the pairwise colour-affinity loss (not in the
# paper; see _base_/colour_affinity.py), at weight 3 (colour_affinity_strong).
_base_ = ['./agmm_deeplabv3plus_r18_fashionscenes-point.py', './_base_/colour_affinity.py']
model = dict(losses=_base_.model.losses + [_base_.colour_affinity_strong])
