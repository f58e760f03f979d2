# Runtime defaults shared by every wsvision config.
default_scope = 'wsvision'
custom_imports = dict(imports=['wsvision'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=500,
                    max_keep_ckpts=2, save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)
custom_hooks = [
    # Resumed runs continue the random streams of the interrupted run.
    dict(type='RandomStateHook'),
    # Stop on a non-finite loss before any checkpoint of that iteration is written.
    dict(type='NonFiniteLossHook'),
    # At the end of training, check that every DDP rank holds the same weights.
    dict(type='WeightsDigestHook'),
]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
randomness = dict(seed=0, deterministic=False)

vis_backends = [dict(type='LocalVisBackend')]
# No fixed name: each Runner (several run in one process in the benchmarks)
# gets its own visualizer, writing to its own work dir.
visualizer = dict(type='Visualizer', vis_backends=vis_backends)
log_processor = dict(by_epoch=False, window_size=50)
log_level = 'INFO'
load_from = None
resume = False
