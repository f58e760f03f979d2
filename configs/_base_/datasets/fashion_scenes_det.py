# FashionScenes detection (build: tools/data/build_fashion_scenes.py).
dataset_type = 'FashionScenesDetDataset'
data_root = 'data/fashion_scenes'

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadDetAnnotations'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadDetAnnotations'),
    dict(type='PackDetInputs'),
]

train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='val',
                 test_mode=True, pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=16,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='test',
                 test_mode=True, pipeline=test_pipeline))
val_evaluator = [
    dict(type='CocoMetric', ann_file=f'{data_root}/val/instances.json'),
    dict(type='VOCMetric'),
]
test_evaluator = [
    dict(type='CocoMetric', ann_file=f'{data_root}/test/instances.json'),
    dict(type='VOCMetric'),
]
visualization_hook = dict(type='DetVisualizationHook', score_thr=0.3,
                          max_images=32)
