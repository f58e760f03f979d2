# SSL person search on the FashionScenes `person_search` variant (build:
# tools/data/build_fashion_scenes.py --variant person_search). Trained with
# boxes (and the masks that hide each exemplar's background) only; the row
# configs switch the SSL parts on and off. Sized for the `cpu` preset: 64 px
# scenes, 2000 training scenes, 2000 iterations of 8 scenes (8 epochs).
#
# Every row starts from the published FashionScenes Faster R-CNN (trained on
# the boxes and classes of the core train split, drawn from Fashion-MNIST
# train; the person-search val and test identities come from Fashion-MNIST
# test), as
# the paper starts from an ImageNet-pretrained backbone. Its box head is
# 10-class, so the 1-class box predictor and the re-ID head start fresh. From
# scratch the re-ID embeddings collapse (every cosine ~1) and no row learns
# re-identification: 2000 iterations gave weak baseline / SSL / OIM mAP
# 4.5 / 3.5 / 23.2 against 13.7 / 17.5 / 39.8 from this start (SSL with the
# paper's settings; 39.3 with those of its config).
_base_ = [
    '../../_base_/models/faster_rcnn_r18_fpn.py',
    '../../_base_/default_runtime.py',
]
model = dict(
    type='PersonSearchRCNN',
    roi_head=dict(num_classes=1),
    reid_head=dict(type='ReIDEmbeddingHead', embed_dim=128),
    reid_loss=dict(type='SSLLoss', momentum=0.8, multi_label=True,
                   scene_prior=True, threshold=(0.6, 0.1, 0.05), balance=5.0,
                   hard_negative_ratio=0.01, exemplar_branch=True,
                   scale_invariant=True, num_scales=3, margin=0.3, gamma=0.05,
                   mask_background=True))

load_from = 'checkpoints/faster-rcnn_r18_fpn_fashionscenes-ceb42c13.pth'

dataset_type = 'FashionScenesPersonSearchDataset'
data_root = 'data/fashion_scenes/person_search'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadDetAnnotations', with_mask=True),
    dict(type='LoadInstanceIds'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackPersonSearchInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadDetAnnotations'),
    dict(type='LoadInstanceIds'),
    dict(type='PackPersonSearchInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train',
                 pipeline=train_pipeline))
# `val` is built like `test` from other identities: settings are chosen on
# it. Training ends with one search on val; no checkpoint is picked by it.
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
val_evaluator = dict(type='PersonSearchMetric', det_score_thr=0.5,
                     iou_thr=0.5)
test_evaluator = val_evaluator
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4),
                     clip_grad=dict(max_norm=10.0))
max_iters = 2000
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=200),
    # The paper's steps at 16 and 22 of 26 epochs.
    dict(type='MultiStepLR', by_epoch=False, milestones=[1230, 1690],
         gamma=0.1),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=max_iters)
default_hooks = dict(
    checkpoint=dict(interval=max_iters),
    # The label threshold's epoch and the k-means exemplar scales.
    ssl_schedule=dict(type='SSLScheduleHook'))
visualization_hook = dict(type='PersonSearchVisualizationHook', top_k=5,
                          max_queries=16, det_score_thr=0.5)
