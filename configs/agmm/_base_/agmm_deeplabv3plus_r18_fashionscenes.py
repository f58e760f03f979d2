# AGMM++ on FashionScenes weak labels. Model, data, schedule, runtime and
# seed are those of the fully supervised reference
# (configs/deeplabv3plus/deeplabv3plus_r18_fashionscenes-full.py); only the
# label loading and the losses differ. Each leaf config picks the weak-label
# type (`train_dataloader.dataset.weak_label`); the partial-CE baselines
# replace the losses.
_base_ = [
    '../../_base_/models/deeplabv3plus_r18.py',
    '../../_base_/datasets/fashion_scenes_seg.py',
    '../../_base_/schedules/seg_cpu_20min.py',
    '../../_base_/default_runtime.py',
]

# The reference's training pipeline with a loader for every weak-label type
# (PNG maps, tags, boxes) that also records the image tags before cropping,
# and a packer that keeps the boxes.
weak_label_transforms = dict(
    LoadSegAnnotations=dict(type='LoadWeakSegAnnotations',
                            num_classes=_base_.model.decode_head.num_classes),
    PackSegInputs=dict(type='PackWeakSegInputs'))
train_pipeline = [weak_label_transforms.get(transform['type'], transform)
                  for transform in _base_.train_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

# Loss weights for a network trained from scratch, chosen on 1500-iteration
# runs of a narrower model (ResNet base 16, 64 channels, batch 8; val mIoU,
# scribbles / points): partial CE alone 0.254 / 0.174; every term at weight 1
# (the paper) 0.226 / 0.190; without the centre separation, the symmetric
# BCE and the maximisation loss, which shape features before they mean
# anything, 0.259 / 0.198. Checked again on this model (scribbles plus the
# colour affinity, the earlier stride-4 model and 5400-iteration schedule,
# seed 1, final val / test mIoU): without
# them 0.478 / 0.459; symmetric BCE at 1 0.458 / 0.440; all three at 1
# 0.444 / 0.438. Setting a weight back to 1 restores a term.
# The pseudo-label threshold stays at 0.9 for scribbles: at 0.7 (current
# defaults, seed 0, final val / test mIoU) 0.557 / 0.579 against 0.574 /
# 0.586. It gives pseudo-labels to more of the unlabelled foreground (0.66
# against 0.43 of it, right 0.988 against 0.996 of the time, by
# tools/analysis/agmm_label_quality.py on 64 training images), and the
# network trained on them is worse. Points take 0.7 (see their config).
model = dict(losses=[
    dict(type='AGMMLoss',
         num_classes=_base_.model.decode_head.num_classes,
         feat_channels=_base_.model.decode_head.channels,
         loss_weights=dict(loss_sep=0.0, loss_sbce=0.0, loss_max=0.0),
         momentum=0.99,
         temperature=1.0,
         threshold=0.9,
         prior_weight=0.0,
         warmup_iters=200),
])
