# The box tightness prior (wsvision.models.losses.box_tightness): every row
# and column of pixels that crosses a tight box holds at least one pixel of
# its object, a multiple-instance term on the box's class. Not part of AGMM
# or AGMM++; a box config appends it to its losses:
#   model = dict(losses=_base_.model.losses + [_base_.box_tightness])
#
# Measured once each (on the earlier stride-4 model, 5400 float32 iterations
# and 4000 scenes; test mIoU; val in brackets): AGMM++
# boxes 0.437 (0.447); + tightness 0.436 (0.448); + tightness + colour
# affinity 0.449 (0.457); + colour affinity alone 0.435 (0.453).
box_tightness = dict(type='BoxTightnessLoss', loss_weight=1.0)
