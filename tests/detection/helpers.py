"""Tiny detectors and synthetic detection samples shared by the tests."""
import torch

from wsvision.structures import DetDataSample, InstanceData

NUM_CLASSES = 3


def tiny_detector_cfg(**roi_head_overrides):
    """A Faster R-CNN small enough for unit tests (about 0.3 M parameters)."""
    roi_head = dict(type='StandardRoIHead', num_classes=NUM_CLASSES,
                    in_channels=16, featmap_names=['0', '1', '2'],
                    featmap_strides=[4, 8, 16], canonical_scale=56,
                    fc_channels=64, num_samples=64)
    roi_head.update(roi_head_overrides)
    return dict(
        type='FasterRCNN',
        data_preprocessor=dict(type='ImgDataPreprocessor',
                               mean=[123.675, 116.28, 103.53],
                               std=[58.395, 57.12, 57.375],
                               pad_size_divisor=32),
        backbone=dict(type='ResNet', depth=18, base_channels=8,
                      out_indices=(0, 1, 2)),
        neck=dict(type='FPN', in_channels=[8, 16, 32], out_channels=16),
        rpn=dict(type='RPN', in_channels=16,
                 anchor_sizes=((16,), (32,), (64,)),
                 pre_nms_top_n=dict(train=300, test=200),
                 post_nms_top_n=dict(train=200, test=100)),
        roi_head=roi_head)


def det_sample(bboxes, labels, img_shape=(64, 64), ori_shape=None,
               scale_factor=(1.0, 1.0), img_id=0):
    sample = DetDataSample(metainfo=dict(
        img_id=img_id, img_shape=img_shape,
        ori_shape=ori_shape or img_shape, scale_factor=scale_factor))
    sample.gt_instances = InstanceData(
        bboxes=torch.tensor(bboxes, dtype=torch.float32).reshape(-1, 4),
        labels=torch.tensor(labels, dtype=torch.int64))
    return sample


def synthetic_batch(seed=0):
    """Two 64x64 images, each with bright rectangles on a dark background
    where its ground-truth boxes are, so a detector can learn them."""
    generator = torch.Generator().manual_seed(seed)
    boxes = [[[8, 8, 30, 36], [36, 20, 60, 44]], [[20, 10, 50, 30]]]
    labels = [[0, 2], [1]]
    colors = torch.tensor([[250, 40, 40], [40, 250, 40], [40, 40, 250]])
    inputs, samples = [], []
    for i, (img_boxes, img_labels) in enumerate(zip(boxes, labels)):
        img = torch.randint(0, 40, (3, 64, 64), generator=generator,
                            dtype=torch.uint8)
        for (x1, y1, x2, y2), label in zip(img_boxes, img_labels):
            img[:, y1:y2, x1:x2] = colors[label][:, None, None].to(torch.uint8)
        inputs.append(img)
        samples.append(det_sample(img_boxes, img_labels, img_id=i))
    return dict(inputs=inputs, data_samples=samples)
