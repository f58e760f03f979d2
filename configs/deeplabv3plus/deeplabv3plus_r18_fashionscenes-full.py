# Fully supervised DeepLabV3+ on FashionScenes: the reference that every
# weak-label mIoU is divided by.
_base_ = [
    '../_base_/models/deeplabv3plus_r18.py',
    '../_base_/datasets/fashion_scenes_seg.py',
    '../_base_/schedules/seg_cpu_20min.py',
    '../_base_/default_runtime.py',
]
