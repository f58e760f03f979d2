# PhantomPET grounding data, here the cpu preset (48x48x64 grid, 10 mm
# voxels); configs for other presets override each loader's data_root.
# Build it with
#   python tools/data/build_phantom_pet.py --preset cpu
#   python tools/data/make_petct_labels.py data/phantom_pet_cpu
# Training reads the weak labels; validation and test the true lesions.
data_root = 'data/phantom_pet_cpu'
tracers = ['FDG', 'DCFPyL', 'DOTATATE', 'fluciclovine']

train_dataloader = dict(
    batch_size=2, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='PETCTGroundingDataset', data_root=data_root,
                 split='train', label_source='weak'))
val_dataloader = dict(
    batch_size=1, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='PETCTGroundingDataset', data_root=data_root,
                 split='val', label_source='true', test_mode=True))
test_dataloader = dict(
    batch_size=1, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='PETCTGroundingDataset', data_root=data_root,
                 split='test', label_source='true', test_mode=True))
val_evaluator = dict(type='GroundingF1Metric', min_voxels=8, tracers=tracers)
test_evaluator = val_evaluator

# tools/test.py --show-dir adds this hook with out_dir=<show dir>.
visualization_hook = dict(type='GroundingVisualizationHook')
