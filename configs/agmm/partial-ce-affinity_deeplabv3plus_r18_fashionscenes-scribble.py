# The partial-CE baseline on scribbles plus the pairwise colour-affinity loss
# (see _base_/colour_affinity.py), at weight 3 (colour_affinity_strong): the
# control for AGMM++ + affinity.
_base_ = ['./partial-ce_deeplabv3plus_r18_fashionscenes-scribble.py',
          './_base_/colour_affinity.py']
model = dict(losses=_base_.model.losses + [_base_.colour_affinity_strong])
