# ConTEXTual Net 3D as in the paper, on the PhantomPET gpu preset, trained on
# weak labels: DynUNet filters 64..256, residual blocks, instance norm;
# language gates at widths 192/128/96; DiceCE, AdamW 5e-5 with warm-up and
# cosine decay, AMP; sliding-window inference, overlap 0.625 (Gaussian).
_base_ = ['../_base_/default_runtime.py', './_base_/phantompet.py']

# The grounding modules register themselves on import.
custom_imports = dict(imports=[
    'wsvision', 'wsvision.datasets.petct', 'wsvision.models.grounding',
    'wsvision.models.encoders', 'wsvision.evaluation.grounding_metric'],
    allow_failed_imports=False)

# The gpu preset (96x96x128 grid, 5 mm voxels): build it with
#   python tools/data/build_phantom_pet.py --preset gpu
#   python tools/data/make_petct_labels.py data/phantom_pet_gpu
# Training reads 96^3 crops; validation and test whole volumes.
data_root = 'data/phantom_pet_gpu'
train_dataloader = dict(
    num_workers=4,
    dataset=dict(data_root=data_root, crop_size=(96, 96, 96)))
val_dataloader = dict(num_workers=2, dataset=dict(data_root=data_root))
test_dataloader = dict(num_workers=2, dataset=dict(data_root=data_root))

model = dict(
    type='ConTEXTualNet3D',
    filters=(64, 96, 128, 192, 256),
    strides=(1, 2, 2, 2, 2),
    text_encoder=dict(type='HFTextEncoder'),  # all-MiniLM-L6-v2, 384-d
    text_levels=3,
    num_heads=1,
    roi_size=(96, 96, 96),
    sw_batch_size=2,
    overlap=0.625)

max_iters = 20000
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=1000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='AmpOptimWrapper', loss_scale='dynamic',
    optimizer=dict(type='AdamW', lr=5e-5, weight_decay=1e-4),
    clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=500),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=500, end=max_iters,
         eta_min=1e-6),
]
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=1000,
                    max_keep_ckpts=2, save_last=True))
