# The pairwise colour-affinity loss (wsvision.models.losses.colour_affinity):
# neighbouring pixels of similar colour take the same class. Not part of AGMM
# or AGMM++; a leaf config appends it to its losses:
#   model = dict(losses=_base_.model.losses + [_base_.colour_affinity])
# sigma and threshold were chosen on 100 val images (dilation 2): 81% of
# neighbour pairs count as similar, and 0.1% of those cross a class boundary.
#
# Measured once per config (on the earlier stride-4 model, 5400 float32
# iterations and 4000 scenes; test mIoU, without -> with):
# AGMM++ scribbles 0.440 -> 0.465, partial CE scribbles 0.437 -> 0.462,
# AGMM++ points 0.429 -> 0.434, AGMM++ boxes 0.437 -> 0.435, AGMM++ blocks50
# 0.479 -> 0.471, AGMM++ blocks10 0.458 -> 0.451. It helps the sparse labels
# whichever loss spreads them; not blocks, which already label whole regions
# to their edges, and not boxes alone, whose fill prior already decides the
# pixels inside each box (with the box tightness prior: 0.449).
# On the current defaults (stride-2 stem, 16,000 scenes, 10,800 bfloat16
# iterations; final val / test mIoU, without -> with): AGMM++ scribbles
# 0.574 / 0.586 -> 0.580 / 0.595 (seed 0) and 0.590 / 0.596 (seed 1);
# AGMM++ points 0.538 / 0.545 -> 0.559 / 0.562 (seed 0).
colour_affinity = dict(type='ColourAffinityLoss', loss_weight=1.0, sigma=0.2,
                       threshold=0.3, dilation=2)
# Scribbles and points, the sparse labels, and boxes with the box tightness
# prior take it at weight 3, chosen on val (current defaults, seed 0, final
# val / test mIoU; weight 1 -> 3): AGMM++ scribbles 0.580 / 0.595 -> 0.591 /
# 0.606; AGMM++ points 0.559 / 0.562 -> 0.570 / 0.567; AGMM++ boxes with
# tightness 0.561 / 0.565 -> 0.577 / 0.592 (seed 1 at weight 3: scribbles
# 0.602 / 0.604, points 0.564 / 0.562, boxes 0.589 / 0.585), and at weight 6
# points trailed (val 0.188 / 0.354 at iterations 1800 / 3600, against
# 0.333 / 0.459 at weight 3; stopped there). The partial-CE controls of
# scribbles and points take the same weight (partial CE points, seed 0:
# 0.508 / 0.507).
colour_affinity_strong = dict(colour_affinity, loss_weight=3.0)
# Image tags take it at weight 1 from iteration 2000 (`start_iter`; see
# agmm-affinity_deeplabv3plus_r18_fashionscenes-tag.py).
