# Faster R-CNN with FPN on a narrow ResNet-18 trained from scratch, sized for
# the small FashionScenes images (96 px in the `cpu` preset): four pyramid
# levels (strides 4-32), one anchor size per level, and RoIs mapped to the
# fine levels (canonical_scale 112 sends 28-112 px boxes to strides 4 and 8).
data_preprocessor = dict(
    type='ImgDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    pad_size_divisor=32)
model = dict(
    type='FasterRCNN',
    data_preprocessor=data_preprocessor,
    backbone=dict(type='ResNet', depth=18, base_channels=32),
    neck=dict(type='FPN', in_channels=[32, 64, 128, 256], out_channels=64),
    rpn=dict(type='RPN', in_channels=64,
             anchor_sizes=((16,), (32,), (64,), (128,)),
             aspect_ratios=(0.5, 1.0, 2.0),
             num_samples=256, pos_fraction=0.5,
             pre_nms_top_n=dict(train=600, test=500),
             post_nms_top_n=dict(train=300, test=300),
             nms_thr=0.7),
    roi_head=dict(type='StandardRoIHead', num_classes=10, in_channels=64,
                  featmap_names=['0', '1', '2', '3'],
                  featmap_strides=[4, 8, 16, 32], canonical_scale=112,
                  fc_channels=256, num_samples=64, pos_fraction=0.25,
                  classifier=dict(type='LinearClassifier'),
                  assigner=dict(type='MaxIoUAssigner', fg_iou_thr=0.5,
                                bg_iou_thr=0.5),
                  score_thr=0.05, nms_thr=0.5, max_per_img=100))
