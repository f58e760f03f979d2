# PS-TTL (methods.md section 3) around the fine-tuned split-1 detector: a
# mean teacher adapted by one pass of test-time learning over the test split
# (TestTimeLearningLoop), with the K-shot set kept as a supervised loss. The
# per-K configs set the K-shot annotation file.
#
# The EMA keep rate is 0.99 rather than the paper's 0.9996-0.9998: the
# FashionScenes test stream has 300 images (75 iterations), against VOC's
# 4952, and the teacher must move within one pass.
_base_ = ['./defrcn_r18_fpn_fashionscenes-fewshot-split1.py']
model = dict(
    _delete_=True,
    type='PSTTL',
    detector={{_base_.model}},
    hard_thr=0.9, uncertain_thr=0.5, nms_iou=0.5,
    queue_size=128, temperature=10.0, soft_label_weight=0.1,
    pseudo_weight=0.5, prototype_momentum=0.5, predict_with='teacher')
# Nothing is trained before the test loop: it holds its own optimiser. The
# fine-tuned checkpoint comes from tools/test.py (or load_from).
train_dataloader = optim_wrapper = param_scheduler = load_from = None
stream_pipeline = [
    dict(type='LoadImageFromFile'),
    # The test annotations only measure pseudo-label quality (ttl/pl_*).
    dict(type='LoadDetAnnotations'),
    dict(type='WeakStrongViews',
         geometric=[dict(type='RandomFlip', prob=0.5)]),
]
shot_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadDetAnnotations'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_cfg = dict(
    _delete_=True,
    type='TestTimeLearningLoop',
    stream_dataloader=dict(
        batch_size=4, num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=True),
        dataset=dict(type='FashionScenesDetDataset',
                     data_root='data/fashion_scenes', split='test',
                     test_mode=True, pipeline=stream_pipeline)),
    shot_dataloader=dict(
        batch_size=4, num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=True),
        dataset=dict(type='FashionScenesDetDataset',
                     data_root='data/fashion_scenes', split='train',
                     ann_file='fewshot/seed0/split1_1shot.json',
                     pipeline=shot_pipeline)),
    optim_wrapper=dict(type='OptimWrapper',
                       optimizer=dict(type='AdamW', lr=1e-4,
                                      weight_decay=1e-4),
                       clip_grad=dict(max_norm=10.0)),
    momentum=0.99,
    evaluate_before=True)
