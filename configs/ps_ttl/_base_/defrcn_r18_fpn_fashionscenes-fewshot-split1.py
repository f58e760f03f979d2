# DeFRCN-style Faster R-CNN for FashionScenes few-shot split 1 (novel: shirt,
# sandal, bag): the r18-FPN detector of the detection baseline with
# gradient-decoupled layers between the backbone and the RPN / RoI head. The
# scales, optimiser and schedule here are the K-shot fine-tuning ones (RPN 0,
# RoI head 0.001, from the base model's last checkpoint); base training
# overrides them. Data: tools/data/build_fashion_scenes.py --variant fewshot.
_base_ = [
    '../../_base_/models/faster_rcnn_r18_fpn.py',
    '../../_base_/datasets/fashion_scenes_det.py',
    '../../_base_/default_runtime.py',
]
novel_classes = ['shirt', 'sandal', 'bag']
model = dict(
    rpn_adapter=dict(type='GradientDecoupledLayer', in_channels=64,
                     grad_scale=0.0),
    roi_adapter=dict(type='GradientDecoupledLayer', in_channels=64,
                     grad_scale=0.001))
load_from = ('work_dirs/defrcn_r18_fpn_fashionscenes-fewshot-split1-base/'
             'iter_1200.pth')
train_dataloader = dict(
    batch_size=4,
    dataset=dict(ann_file='fewshot/seed0/split1_1shot.json'))
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=5e-4, weight_decay=1e-4),
                     clip_grad=dict(max_norm=10.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=20)]
val_evaluator = dict(_delete_=True, type='FewShotCocoMetric',
                     novel_classes=novel_classes,
                     ann_file='data/fashion_scenes/val/instances.json')
test_evaluator = dict(_delete_=True, type='FewShotCocoMetric',
                      novel_classes=novel_classes,
                      ann_file='data/fashion_scenes/test/instances.json')
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(checkpoint=dict(interval=100000, save_last=True))
