# AGMM++ trained on FashionScenes blocks50.
_base_ = './_base_/agmm_deeplabv3plus_r18_fashionscenes.py'
train_dataloader = dict(dataset=dict(weak_label='blocks50'))

# On these dense labels the absent-class and pseudo-label terms are off too,
# chosen on val over seeds 0 and 1 (the earlier stride-4 model and
# 5400-iteration schedule; final val mIoU / test mIoU):
# - every base term (partial CE, label BCE, absent classes, pseudo-labels,
#   image classes): seed 1 0.489 / 0.469, seed 0 test 0.479;
# - partial CE, label BCE and image classes (this config): 0.500 / 0.492 and
#   0.527 / 0.495;
# - partial CE and image classes: 0.505 / 0.480 and 0.507 / 0.483.
model = dict(losses=[
    dict(_base_.model.losses[0],
         loss_weights=dict(_base_.model.losses[0].loss_weights, loss_absent=0.0,
                           loss_pseudo=0.0)),
])
