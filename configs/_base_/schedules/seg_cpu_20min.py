# The FashionScenes `cpu` schedule: every segmentation run (full supervision
# and each weak-label type) uses this same schedule and seed. The forward
# pass runs under bfloat16 autocast where the CPU has native bfloat16 units
# (AMX or AVX512-BF16; float32 elsewhere, which is about 1.6x slower);
# losses and weights stay float32. 10,800 iterations at batch 16 on 64 px
# scenes take about 18 minutes on 2 such cores (0.095 s per iteration for
# the fully supervised model, validation included).
optim_wrapper = dict(type='BF16AutocastOptimWrapper', enabled='auto',
                     optimizer=dict(type='AdamW', lr=4e-3, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=100),
    dict(type='PolyLR', eta_min=1e-5, power=0.9, by_epoch=False, begin=100,
         end=10800),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=10800, val_interval=1800)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
