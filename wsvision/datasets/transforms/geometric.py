"""Geometric transforms of an image and everything aligned with it.

Besides the image they move the label maps in ``results['seg_fields']``, the
xyxy boxes in ``bbox_fields`` and the (N, H, W) instance masks in
``mask_fields``; a crop that removes instances drops them from every array in
``instance_fields`` (see ``LoadDetAnnotations``), so labels stay aligned.

Randomness comes from numpy's global generator, which MMEngine seeds from the
run's seed, so a fixed seed gives the same augmentation stream (and a resumed
run replays it when the loop advances the dataloader).
"""
import cv2
import numpy as np

from ...registry import TRANSFORMS
from ...structures import IGNORE_INDEX


def _resize_nearest(label: np.ndarray, size_wh) -> np.ndarray:
    return cv2.resize(label, size_wh, interpolation=cv2.INTER_NEAREST)


def _resize_masks(masks: np.ndarray, size_wh) -> np.ndarray:
    """(N, H, W) -> (N, h, w) with ``size_wh`` = (w, h)."""
    if len(masks) == 0:
        return np.zeros((0, size_wh[1], size_wh[0]), dtype=masks.dtype)
    return np.stack([_resize_nearest(mask, size_wh) for mask in masks])


def _rescale(results: dict, size_wh) -> None:
    """Resize the image to ``size_wh`` = (w, h), with its labels, boxes and
    masks, and fold the scale into ``scale_factor`` (w_scale, h_scale
    relative to the original image)."""
    h, w = results['img'].shape[:2]
    results['img'] = cv2.resize(results['img'], size_wh,
                                interpolation=cv2.INTER_LINEAR)
    for field in results.get('seg_fields', []):
        results[field] = _resize_nearest(results[field], size_wh)
    # The exact ratios of the rounded size, so boxes match the new pixels.
    w_scale, h_scale = size_wh[0] / w, size_wh[1] / h
    for field in results.get('bbox_fields', []):
        results[field] = results[field] * np.array(
            [w_scale, h_scale, w_scale, h_scale], dtype=np.float32)
    for field in results.get('mask_fields', []):
        results[field] = _resize_masks(results[field], size_wh)
    old_w_scale, old_h_scale = results.get('scale_factor', (1.0, 1.0))
    results['scale_factor'] = (old_w_scale * w_scale, old_h_scale * h_scale)
    results['img_shape'] = results['img'].shape[:2]


@TRANSFORMS.register_module()
class Resize:
    """Resize to a fixed ``scale`` = (w, h), as ``cv2`` and mmdet give sizes.

    With ``keep_ratio`` the image is scaled by the largest factor for which
    its long side fits ``max(scale)`` and its short side fits ``min(scale)``
    (so ``scale=(1333, 800)`` is the usual COCO setting); otherwise it is
    stretched to exactly (w, h).
    """

    def __init__(self, scale, keep_ratio: bool = True):
        scale = (scale, scale) if isinstance(scale, int) else tuple(scale)
        if len(scale) != 2 or min(scale) <= 0:
            raise ValueError(f'scale must be a positive (w, h), got {scale}')
        self.scale, self.keep_ratio = scale, keep_ratio

    def __call__(self, results: dict) -> dict:
        h, w = results['img'].shape[:2]
        if self.keep_ratio:
            ratio = min(max(self.scale) / max(h, w), min(self.scale) / min(h, w))
            size_wh = (max(1, int(round(w * ratio))),
                       max(1, int(round(h * ratio))))
        else:
            size_wh = self.scale
        _rescale(results, size_wh)
        return results


@TRANSFORMS.register_module()
class RandomResize:
    """Rescale by a factor drawn uniformly from ``ratio_range``."""

    def __init__(self, ratio_range=(0.75, 1.5)):
        if not 0 < ratio_range[0] <= ratio_range[1]:
            raise ValueError(f'ratio_range must be 0 < lo <= hi, got {ratio_range}')
        self.ratio_range = tuple(ratio_range)

    def __call__(self, results: dict) -> dict:
        ratio = np.random.uniform(*self.ratio_range)
        h, w = results['img'].shape[:2]
        size_wh = (max(1, int(round(w * ratio))), max(1, int(round(h * ratio))))
        _rescale(results, size_wh)
        return results


@TRANSFORMS.register_module()
class RandomCrop:
    """Crop ``crop_size`` (h, w); smaller images are padded first.

    Image padding is 0 and label padding is ``IGNORE_INDEX`` (255), never the
    "unlabelled" value, so padding is not confused with missing weak labels.
    Instance masks pad with 0. Boxes are clipped to the window, and instances
    whose box falls outside it are dropped (an image may end up with none).
    """

    def __init__(self, crop_size):
        self.crop_h, self.crop_w = (crop_size, crop_size) if isinstance(
            crop_size, int) else tuple(crop_size)

    def __call__(self, results: dict) -> dict:
        h, w = results['img'].shape[:2]
        pad_h, pad_w = max(self.crop_h - h, 0), max(self.crop_w - w, 0)
        if pad_h or pad_w:
            results['img'] = np.pad(results['img'],
                                    ((0, pad_h), (0, pad_w), (0, 0)))
            for field in results.get('seg_fields', []):
                results[field] = np.pad(results[field], ((0, pad_h), (0, pad_w)),
                                        constant_values=IGNORE_INDEX)
            for field in results.get('mask_fields', []):
                results[field] = np.pad(results[field],
                                        ((0, 0), (0, pad_h), (0, pad_w)))
            h, w = h + pad_h, w + pad_w
        top = np.random.randint(0, h - self.crop_h + 1)
        left = np.random.randint(0, w - self.crop_w + 1)
        window = (slice(top, top + self.crop_h), slice(left, left + self.crop_w))
        results['img'] = results['img'][window]
        for field in results.get('seg_fields', []):
            results[field] = results[field][window]
        for field in results.get('mask_fields', []):
            results[field] = results[field][(slice(None), ) + window]
        if results.get('bbox_fields'):
            self._crop_boxes(results, top, left)
        results['img_shape'] = results['img'].shape[:2]
        return results

    def _crop_boxes(self, results: dict, top: int, left: int) -> None:
        """Move boxes into the window, clip them to it and drop the instances
        whose box no longer covers any area."""
        offset = np.array([left, top, left, top], dtype=np.float32)
        limits = np.array([self.crop_w, self.crop_h] * 2, dtype=np.float32)
        for field in results['bbox_fields']:
            results[field] = np.clip(results[field] - offset, 0, limits)
        boxes = results['gt_bboxes']
        keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        for field in results.get('instance_fields', []):
            results[field] = results[field][keep]


@TRANSFORMS.register_module()
class RandomFlip:
    """Horizontal flip with probability ``prob``."""

    def __init__(self, prob=0.5):
        self.prob = prob

    def __call__(self, results: dict) -> dict:
        flip = np.random.rand() < self.prob
        if flip:
            width = results['img'].shape[1]
            results['img'] = results['img'][:, ::-1]
            for field in results.get('seg_fields', []):
                results[field] = results[field][:, ::-1]
            for field in results.get('bbox_fields', []):
                # x1' = W - x2 and x2' = W - x1: the box edges swap roles.
                boxes = results[field].copy()
                boxes[:, [0, 2]] = width - results[field][:, [2, 0]]
                results[field] = boxes
            for field in results.get('mask_fields', []):
                results[field] = results[field][:, :, ::-1]
        results['flip'] = bool(flip)
        return results
