# The box tightness prior (wsvision.models.losses.box_tightness): every row
# and column of pixels that crosses a tight box holds at least one pixel of
# its object, a multiple-instance term on the box's class. Not part of AGMM
# or AGMM++; a box config appends it to its losses:
#   model = dict(losses=_base_.model.losses + [_base_.box_tightness])
box_tightness = dict(type='BoxTightnessLoss', loss_weight=1.0)
