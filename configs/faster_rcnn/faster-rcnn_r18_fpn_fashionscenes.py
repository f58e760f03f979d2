# Fully supervised Faster R-CNN on FashionScenes: the detection baseline that
# the weakly supervised detectors are compared with. Sized for the `cpu`
# preset's budget: about 0.35 s per iteration on 2 CPU cores, so 2400
# iterations (about 5 epochs of 4000 scenes) and two validations take about
# 15 minutes.
_base_ = [
    '../_base_/models/faster_rcnn_r18_fpn.py',
    '../_base_/datasets/fashion_scenes_det.py',
    '../_base_/default_runtime.py',
]
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4),
                     clip_grad=dict(max_norm=10.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=200),
    dict(type='MultiStepLR', by_epoch=False, milestones=[1800, 2200],
         gamma=0.1),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=2400, val_interval=1200)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    checkpoint=dict(interval=1200, save_best='coco/AP50', rule='greater'))
