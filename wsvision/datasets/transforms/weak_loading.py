"""Weak labels of every kind as one label map, plus image tags and boxes.

Sparse weak labels (points, scribbles, blocks) are PNG maps and load as in
``LoadSegAnnotations``. Image-level tags and boxes are records
(``results['weak_tags']`` = [class ids], ``results['weak_boxes']`` =
[[x1, y1, x2, y2, class_id], ...], as ``FashionScenesSegDataset`` provides
them) and become a label map too, so every weak-label type reaches the loss
through the same ``gt_weak_seg`` field and the same geometric transforms:

- tags: every pixel ``UNLABELLED``;
- boxes: background outside every box, ``UNLABELLED`` inside (which class a
  pixel inside a box has is for the method to decide), and the boxes
  themselves as ``gt_bboxes`` / ``gt_bboxes_labels``, moved, clipped and
  dropped with the image by the box-aware geometric transforms.

Crop padding is ``IGNORE_INDEX`` (255), never ``UNLABELLED`` (254).
"""
import numpy as np
import torch

from ...registry import TRANSFORMS
from ...structures import IGNORE_INDEX, UNLABELLED, InstanceData
from .formatting import PackSegInputs
from .loading import LoadSegAnnotations


def boxes_to_label_map(boxes: np.ndarray, shape, background_id) -> np.ndarray:
    """(N, 4) xyxy boxes (x2, y2 exclusive) -> uint8 (H, W) map that is
    ``background_id`` outside every box (``UNLABELLED`` when it is None) and
    ``UNLABELLED`` inside."""
    outside = UNLABELLED if background_id is None else background_id
    label = np.full(shape, outside, dtype=np.uint8)
    for x1, y1, x2, y2 in np.round(boxes).astype(np.int64):
        label[max(y1, 0):max(y2, 0), max(x1, 0):max(x2, 0)] = UNLABELLED
    return label


@TRANSFORMS.register_module()
class LoadWeakSegAnnotations(LoadSegAnnotations):
    """Load the weak label of any type as ``gt_weak_seg``, and the image tags.

    After ``LoadSegAnnotations`` (PNG label maps), ``weak_tags`` or
    ``weak_boxes`` records become ``gt_weak_seg`` as described in the module
    docstring. Then ``gt_tags`` (K,) float32 is set from the whole image,
    before any crop: the tag list, the box classes, or else the classes of
    the labelled pixels of the training label map (weak if present, dense
    otherwise), plus ``background_id``, which tag lists and boxes do not
    name (every scene has background).

    Place it where ``LoadSegAnnotations`` would go, before the geometric
    transforms, so the tags describe the uncropped image.

    Args:
        num_classes: K, the length of ``gt_tags``.
        background_id: the background class, or ``None`` when every class is
            an object class (then no pixel outside the boxes is labelled).
    """

    def __init__(self, num_classes: int, background_id=0):
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f'num_classes must be a positive int, got {num_classes!r}')
        if background_id is not None and not 0 <= background_id < num_classes:
            raise ValueError(f'background_id {background_id} is not a class id '
                             f'in [0, {num_classes})')
        self.num_classes = num_classes
        self.background_id = background_id

    def __call__(self, results: dict) -> dict:
        results = super().__call__(results)
        where = results.get('img_path', 'sample')
        if 'weak_tags' in results or 'weak_boxes' in results:
            if 'img' not in results:
                raise ValueError(f'{where}: load the image before '
                                 'LoadWeakSegAnnotations (tags and boxes need '
                                 'its size)')
            if 'gt_weak_seg' in results:
                raise ValueError(f'{where}: has both a weak label map and '
                                 'weak tags/boxes; expected one weak label')
        shape = results['img'].shape[:2] if 'img' in results else None
        if 'weak_tags' in results:
            tags = [int(c) for c in results['weak_tags']]
            self._add_weak_map(results, np.full(shape, UNLABELLED, np.uint8))
        elif 'weak_boxes' in results:
            rows = np.asarray(results['weak_boxes'], dtype=np.float32).reshape(-1, 5)
            self._add_boxes(results, rows)
            self._add_weak_map(results, boxes_to_label_map(
                rows[:, :4], shape, self.background_id))
            tags = [int(c) for c in rows[:, 4]]
        else:
            label = results.get('gt_weak_seg', results.get('gt_seg_map'))
            if label is None:
                raise ValueError(f'{where}: no label to take image tags from; '
                                 'expected a weak label or a dense label map')
            tags = [int(c) for c in np.unique(label)
                    if c not in (UNLABELLED, IGNORE_INDEX)]
        if self.background_id is not None:
            tags.append(self.background_id)
        bad = [c for c in tags if not 0 <= c < self.num_classes]
        if bad:
            raise ValueError(f'{where}: weak label holds class ids {sorted(set(bad))} '
                             f'outside [0, {self.num_classes})')
        gt_tags = np.zeros(self.num_classes, dtype=np.float32)
        gt_tags[tags] = 1
        results['gt_tags'] = gt_tags
        return results

    @staticmethod
    def _add_weak_map(results: dict, label: np.ndarray) -> None:
        results['gt_weak_seg'] = label
        results.setdefault('seg_fields', []).append('gt_weak_seg')

    @staticmethod
    def _add_boxes(results: dict, rows: np.ndarray) -> None:
        results['gt_bboxes'] = np.ascontiguousarray(rows[:, :4])
        results['gt_bboxes_labels'] = rows[:, 4].astype(np.int64)
        results.setdefault('bbox_fields', []).append('gt_bboxes')
        results.setdefault('instance_fields', []).extend(
            ['gt_bboxes', 'gt_bboxes_labels'])


@TRANSFORMS.register_module()
class PackWeakSegInputs(PackSegInputs):
    """``PackSegInputs`` that also packs weak boxes, when the sample has them,
    as ``gt_instances`` (``InstanceData``: ``bboxes`` (N, 4) float32 xyxy in
    the packed image's pixels, ``labels`` (N,) int64)."""

    def __call__(self, results: dict) -> dict:
        packed = super().__call__(results)
        if 'gt_bboxes' in results:
            packed['data_samples'].gt_instances = InstanceData(
                bboxes=torch.from_numpy(np.ascontiguousarray(
                    results['gt_bboxes'], dtype=np.float32)),
                labels=torch.from_numpy(np.ascontiguousarray(
                    results['gt_bboxes_labels'], dtype=np.int64)))
        return packed
