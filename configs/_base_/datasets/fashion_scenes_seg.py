# FashionScenes semantic segmentation (build: tools/data/build_fashion_scenes.py).
dataset_type = 'FashionScenesSegDataset'
data_root = 'data/fashion_scenes'
crop_size = (64, 64)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadSegAnnotations'),
    dict(type='RandomResize', ratio_range=(0.75, 1.5)),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadSegAnnotations'),
    dict(type='PackSegInputs'),
]

train_dataloader = dict(
    batch_size=16,
    num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='val',
                 pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=16,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='test',
                 pipeline=test_pipeline))
# Also fgIoU and fgAcc: the errors of the object extent and of the object
# class, apart (see wsvision/evaluation/metrics/iou_metric.py).
val_evaluator = dict(type='IoUMetric', background_index=0)
test_evaluator = val_evaluator
visualization_hook = dict(type='SegVisualizationHook', max_images=32)
