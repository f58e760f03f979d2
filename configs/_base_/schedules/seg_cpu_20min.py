# The FashionScenes `cpu` schedule: every segmentation run (full supervision
# and each weak-label type) uses this same schedule and seed. 5400 iterations
# at batch 16 on 64 px crops take about 19 minutes on 2 CPU cores (0.20 s per
# iteration for the fully supervised model).
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=2e-3, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=100),
    dict(type='PolyLR', eta_min=1e-5, power=0.9, by_epoch=False, begin=100,
         end=5400),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=5400, val_interval=900)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
