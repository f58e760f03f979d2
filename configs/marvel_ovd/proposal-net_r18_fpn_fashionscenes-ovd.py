# The class-agnostic proposal network of MarvelOVD's offline pseudo-labels:
# the FashionScenes Faster R-CNN with one "object" class, trained on the base
# boxes of the ovd variant only. tools/data/make_ovd_pseudo_labels.py writes
# its training file and trains it.
_base_ = ['../faster_rcnn/faster-rcnn_r18_fpn_fashionscenes.py']
model = dict(roi_head=dict(num_classes=1, class_agnostic_reg=True,
                           score_thr=0.01, nms_thr=0.5, max_per_img=100))
train_dataloader = dict(dataset=dict(
    ann_file='ovd/instances_train_base_agnostic.json'))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', by_epoch=False, milestones=[900], gamma=0.1),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=1200, val_interval=1200)
# No evaluation: the validation files hold the 10 real classes.
val_dataloader = None
val_evaluator = None
val_cfg = None
default_hooks = dict(checkpoint=dict(interval=1200, save_best=None))
