# ConTEXTual Net 3D on the PhantomPET cpu preset, trained on weak labels.
# The paper's DynUNet layout (5 levels, strides 1-2-2-2-2, residual blocks,
# instance norm, gates at the three deepest up-blocks) with slimmer filters
# (8..64 instead of 64..256) and a short, higher learning-rate schedule, so
# that it trains in about 20 minutes on 2 CPU cores (about 0.5 s an
# iteration); the gpu config keeps the paper's network and schedule.
_base_ = ['../_base_/default_runtime.py', './_base_/phantompet.py']

# The grounding modules register themselves on import.
custom_imports = dict(imports=[
    'wsvision', 'wsvision.datasets.petct', 'wsvision.models.grounding',
    'wsvision.models.encoders', 'wsvision.evaluation.grounding_metric'],
    allow_failed_imports=False)

model = dict(
    type='ConTEXTualNet3D',
    filters=(8, 16, 32, 48, 64),
    strides=(1, 2, 2, 2, 2),
    text_encoder=dict(type='HFTextEncoder'),  # all-MiniLM-L6-v2, 384-d
    text_levels=3,
    num_heads=1,
    roi_size=(48, 48, 64),
    sw_batch_size=1,
    overlap=0.625)

max_iters = 2000
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=500)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4),
    clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
         end=100),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=100, end=max_iters,
         eta_min=1e-5),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False,
                    interval=max_iters, max_keep_ckpts=1, save_last=True))
log_processor = dict(by_epoch=False, window_size=50)
