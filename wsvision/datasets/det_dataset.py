"""Common ground of the detection loaders (COCO, LVIS, FashionScenes, PRW, CUHK-SYSU).

Every detection loader produces one data-info record per image::

    dict(img_id=..., img_path=..., [height=..., width=...,]
         instances=[dict(bbox=[x1, y1, x2, y2], bbox_label=int,
                         ignore_flag=0 | 1, [ann_id=..., mask=..., person_id=...]),
                    ...])

``LoadDetAnnotations`` turns ``instances`` into arrays. ``DetDataset`` adds the
empty-image filter and the summary (images, images without instances,
instances per class) that every loader logs once it has read its files.
"""
from typing import List, Sequence

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from .io import DataError

#: How far (pixels) a box may stick out of its image before it is an error;
#: boxes within the tolerance are clipped to the image.
BOX_TOLERANCE = 1.0


def xywh_to_xyxy(boxes_xywh: np.ndarray) -> np.ndarray:
    """(N, 4) [x, y, w, h] -> (N, 4) [x1, y1, x2, y2], float32."""
    boxes = np.asarray(boxes_xywh, dtype=np.float32).reshape(-1, 4).copy()
    boxes[:, 2:] += boxes[:, :2]
    return boxes


def clip_boxes_to_image(boxes: np.ndarray, height: int, width: int,
                        where: str, box_ids: Sequence) -> np.ndarray:
    """Check that xyxy ``boxes`` (N, 4) lie inside a ``height`` x ``width``
    image and clip them to it.

    A box reaching more than ``BOX_TOLERANCE`` pixels out of the image, or
    with x2 < x1 or y2 < y1, raises ``DataError`` naming ``where`` and the
    box's entry of ``box_ids`` (its annotation id or index).
    """
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    limits = np.array([width, height, width, height], dtype=np.float32)
    bad = (~np.isfinite(boxes).all(axis=1)
           | (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
           | (boxes[:, :2] < -BOX_TOLERANCE).any(axis=1)
           | (boxes[:, 2:] > limits[2:] + BOX_TOLERANCE).any(axis=1))
    if bad.any():
        index = int(np.flatnonzero(bad)[0])
        raise DataError(
            f'{where}: annotation {box_ids[index]} has box (x1, y1, x2, y2) = '
            f'{boxes[index].tolist()}, which is inverted or lies outside the '
            f'{width}x{height} image (tolerance {BOX_TOLERANCE:g} px)')
    return np.clip(boxes, 0, limits)


def is_degenerate(boxes: np.ndarray) -> np.ndarray:
    """(N,) bool: xyxy boxes narrower or lower than one pixel.

    Such boxes (annotation slips in COCO and CUHK-SYSU) cannot supervise a
    detector; the loaders keep them with ``ignore_flag=1`` instead of dropping
    them, so identity look-ups by box still find them.
    """
    return ((boxes[:, 2] - boxes[:, 0]) < 1) | ((boxes[:, 3] - boxes[:, 1]) < 1)


def has_instances(data_info: dict) -> bool:
    """Whether an image has at least one instance that is not ignored."""
    return any(not inst['ignore_flag'] for inst in data_info['instances'])


class DetDataset(BaseDataset):
    """``BaseDataset`` for images with instance records (see module docstring).

    Subclasses implement ``load_data_list`` and put ``classes`` into the
    metainfo (``_set_classes``) before it returns.

    Args:
        filter_empty_gt: outside test mode, drop images that have no instance
            left after removing the ignored ones. Off by default: an image
            without annotations is valid detection data (pure background).
        **kwargs: ``BaseDataset`` arguments (``data_root``, ``ann_file``,
            ``pipeline``, ``test_mode``, ``lazy_init``, ...).
    """

    def __init__(self, *args, filter_empty_gt: bool = False, **kwargs):
        self.filter_empty_gt = filter_empty_gt
        self._summary = None
        super().__init__(*args, **kwargs)

    def _set_classes(self, classes: Sequence[str], **extra_meta) -> None:
        """Record the label -> class name table read from the annotations.

        A ``classes`` entry passed in ``metainfo`` must agree with the file:
        the labels are fixed by the annotation file, not by the config.
        """
        classes = tuple(classes)
        given = self._metainfo.get('classes')
        if given is not None and tuple(given) != classes:
            raise ValueError(
                f'{type(self).__name__}: metainfo classes {tuple(given)} differ '
                f'from the classes {classes} in {self.ann_file or self.data_root}')
        self._metainfo.update(classes=classes, **extra_meta)

    def filter_data(self) -> List[dict]:
        kept = self.data_list
        if self.filter_empty_gt and not self.test_mode:
            kept = [info for info in self.data_list if has_instances(info)]
        self._summary = self._count(kept, len(self.data_list) - len(kept))
        print_log(self._summary_line(), logger='current')
        return kept

    def _count(self, data_list: List[dict], num_filtered: int) -> dict:
        classes = self._metainfo['classes']
        per_class = np.zeros(len(classes), dtype=np.int64)
        num_ignored = 0
        for info in data_list:
            for inst in info['instances']:
                if inst['ignore_flag']:
                    num_ignored += 1
                else:
                    per_class[inst['bbox_label']] += 1
        return dict(
            images=len(data_list),
            images_without_instances=sum(not has_instances(info)
                                         for info in data_list),
            filtered_out=num_filtered,
            instances_per_class=dict(zip(classes, per_class.tolist())),
            ignored_instances=num_ignored)

    def _summary_line(self) -> str:
        s = self._summary
        per_class = ', '.join(f'{name}: {n}'
                              for name, n in s['instances_per_class'].items())
        return (f'{type(self).__name__} ({self.ann_file or self.data_root}): '
                f'{s["images"]} images, {s["images_without_instances"]} without '
                f'instances, {s["filtered_out"]} filtered out as empty; '
                f'{s["ignored_instances"]} ignored instances; instances per '
                f'class: {per_class}')

    def summary(self) -> dict:
        """Counts over the loaded images: ``images``,
        ``images_without_instances`` (none that is not ignored),
        ``filtered_out`` (dropped by ``filter_empty_gt``),
        ``instances_per_class`` ({class name: count}, ignored ones excluded)
        and ``ignored_instances``."""
        self.full_init()
        return dict(self._summary)
