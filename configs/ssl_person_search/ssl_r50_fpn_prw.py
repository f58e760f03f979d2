# Full SSL on PRW (PRW-v16.04.20, read from its .mat annotations). PRW has no
# instance masks: the exemplar crops keep their whole box. The schedule is
# the paper's: SGD, lr 1e-3, 26 epochs with steps at 16 and 22, batch 4.
_base_ = ['./_base_/ssl_r18_fpn_fashionscenes-ps.py']
# Not the FashionScenes detector of the base config: give an
# ImageNet-pretrained ResNet-50 you have, e.g.
# model.backbone.init_cfg=dict(type='Pretrained', checkpoint=PATH).
load_from = None
model = dict(
    backbone=dict(depth=50, base_channels=64),
    neck=dict(in_channels=[256, 512, 1024, 2048], out_channels=256),
    rpn=dict(in_channels=256, anchor_sizes=((32,), (64,), (128,), (256,)),
             pre_nms_top_n=dict(train=2000, test=1000),
             post_nms_top_n=dict(train=1000, test=300)),
    roi_head=dict(in_channels=256, canonical_scale=224, fc_channels=1024,
                  num_samples=256),
    reid_head=dict(embed_dim=256),
    reid_loss=dict(mask_background=False, hard_negative_ratio=0.01))
dataset_type = 'PRWDataset'
data_root = 'data/PRW-v16.04.20'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadDetAnnotations'),
    dict(type='LoadInstanceIds'),
    dict(type='Resize', scale=(1500, 900), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackPersonSearchInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadDetAnnotations'),
    dict(type='LoadInstanceIds'),
    dict(type='Resize', scale=(1500, 900), keep_ratio=True),
    dict(type='PackPersonSearchInputs'),
]
train_dataloader = dict(
    batch_size=4,
    sampler=dict(_delete_=True, type='DefaultSampler', shuffle=True),
    dataset=dict(_delete_=True, type=dataset_type, data_root=data_root,
                 split='train', pipeline=train_pipeline))
test_dataloader = dict(
    batch_size=1,
    dataset=dict(_delete_=True, type=dataset_type, data_root=data_root,
                 split='test', test_mode=True, pipeline=test_pipeline))
# The FashionScenes val split has no PRW counterpart.
val_dataloader = None
val_evaluator = None
val_cfg = None
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
                     optimizer=dict(type='SGD', lr=1e-3, momentum=0.9,
                                    weight_decay=5e-4),
                     clip_grad=dict(max_norm=10.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=1000),
    dict(type='MultiStepLR', by_epoch=True, milestones=[16, 22], gamma=0.1,
         convert_to_iter_based=True),
]
train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=26)
default_hooks = dict(checkpoint=dict(by_epoch=True, interval=1))
log_processor = dict(by_epoch=True)
