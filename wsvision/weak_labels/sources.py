"""Dense ground truth to generate weak labels from, one image at a time.

- ``CocoSplitSource``: a FashionScenes / COCO split folder with
  ``masks/<stem>.png`` (uint8 semantic ids) and ``instances.json`` (COCO;
  ``images[].file_name`` ends in ``<stem>.png``, annotations carry an RLE or
  polygon ``segmentation`` and a ``category_id`` equal to the semantic id).
- ``MaskFolderSource``: a folder of semantic masks with no instances (VOC
  ``SegmentationClass``, Cityscapes ``*_labelTrainIds.png``); generators that
  need instances then use connected components per class.
"""
import glob
import os
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterator, List, Optional

import numpy as np
from pycocotools import mask as mask_utils

from ..datasets.io import (DataError, check_dir, load_json, read_label_png,
                           require_keys)
from .base import Instance

__all__ = ['MaskSample', 'CocoSplitSource', 'MaskFolderSource',
           'decode_segmentation']


@dataclass(frozen=True)
class MaskSample:
    """One image's dense ground truth.

    ``semantic``: uint8 (H, W) as stored; ``instances``: visible instance
    masks with classes, or ``None`` when the source has no instances.
    """
    stem: str
    semantic: np.ndarray
    instances: Optional[List[Instance]]


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def decode_segmentation(segmentation, height: int, width: int,
                        where: str) -> np.ndarray:
    """A COCO ``segmentation`` (RLE, uncompressed RLE or polygons) as (H, W) bool."""
    if isinstance(segmentation, list):  # polygons
        return mask_utils.decode(mask_utils.merge(
            mask_utils.frPyObjects(segmentation, height, width))).astype(bool)
    if not isinstance(segmentation, dict):
        raise DataError(f'{where}: segmentation must be an RLE dict or a list '
                        f'of polygons, got {type(segmentation).__name__}')
    require_keys(segmentation, ('size', 'counts'), f'{where}: segmentation')
    if list(segmentation['size']) != [height, width]:
        raise DataError(f'{where}: segmentation size '
                        f'{list(segmentation["size"])} differs from the image '
                        f'size {[height, width]}')
    counts = segmentation['counts']
    if isinstance(counts, list):  # uncompressed RLE
        rle = mask_utils.frPyObjects(segmentation, height, width)
    else:
        rle = dict(segmentation,
                   counts=counts.encode() if isinstance(counts, str) else counts)
    return mask_utils.decode(rle).astype(bool)


class CocoSplitSource:
    """Semantic masks plus COCO instances of one split folder, sorted by stem.

    Crowd annotations (``iscrowd`` 1) are not single objects and are skipped.
    An instance whose mask mostly disagrees with the semantic mask raises
    ``DataError``: its category ids are not the semantic ids.
    """

    def __init__(self, split_dir: str):
        check_dir(split_dir, 'split folder')
        self.root = split_dir
        self.masks_dir = check_dir(os.path.join(split_dir, 'masks'),
                                   'semantic mask folder')
        self.annotation_file = os.path.join(split_dir, 'instances.json')
        coco = load_json(self.annotation_file)
        require_keys(coco, ('images', 'annotations'), self.annotation_file)
        self._images = {}
        stems_by_id = {}
        for index, image in enumerate(coco['images']):
            where = f'{self.annotation_file}: images[{index}]'
            require_keys(image, ('id', 'file_name', 'height', 'width'), where)
            stem = _stem(image['file_name'])
            if stem in self._images:
                raise DataError(f'{where}: file name {image["file_name"]!r} '
                                'repeats an earlier image')
            self._images[stem] = image
            stems_by_id[image['id']] = stem
        self._annotations = defaultdict(list)
        for index, annotation in enumerate(coco['annotations']):
            where = f'{self.annotation_file}: annotations[{index}]'
            require_keys(annotation, ('image_id', 'category_id', 'segmentation'),
                         where)
            if annotation['image_id'] not in stems_by_id:
                raise DataError(f'{where}: image_id {annotation["image_id"]} '
                                'is not in images')
            if not annotation.get('iscrowd', 0):
                self._annotations[stems_by_id[annotation['image_id']]].append(
                    (where, annotation))

    def __len__(self) -> int:
        return len(self._images)

    def __iter__(self) -> Iterator[MaskSample]:
        for stem in sorted(self._images):
            image = self._images[stem]
            mask_path = os.path.join(self.masks_dir, f'{stem}.png')
            semantic = read_label_png(mask_path)
            size = (image['height'], image['width'])
            if semantic.shape != size:
                raise DataError(f'{mask_path}: mask size {semantic.shape} '
                                f'differs from {size} in {self.annotation_file}')
            instances = [self._instance(where, annotation, semantic, mask_path)
                         for where, annotation in self._annotations[stem]]
            yield MaskSample(stem, semantic, instances)

    @staticmethod
    def _instance(where: str, annotation: dict, semantic: np.ndarray,
                  mask_path: str) -> Instance:
        mask = decode_segmentation(annotation['segmentation'], *semantic.shape,
                                   where)
        class_id = annotation['category_id']
        if mask.any() and np.mean(semantic[mask] == class_id) < 0.5:
            raise DataError(
                f'{where}: fewer than half of the mask pixels have class '
                f'{class_id} in {mask_path}; category_id must equal the '
                'semantic class id')
        return Instance(mask, class_id)


class MaskFolderSource:
    """Semantic masks matching ``pattern`` anywhere under ``masks_dir``.

    Sorted by file stem, which must be unique: outputs are keyed by it.
    """

    def __init__(self, masks_dir: str, pattern: str = '*.png'):
        self.root = check_dir(masks_dir, 'semantic mask folder')
        self._paths = sorted(
            glob.glob(os.path.join(masks_dir, '**', pattern), recursive=True),
            key=_stem)
        if not self._paths:
            raise DataError(f'no masks matching {pattern!r} under {masks_dir}')
        stems = [_stem(path) for path in self._paths]
        for previous, current, path in zip(stems, stems[1:], self._paths[1:]):
            if previous == current:
                raise DataError(f'{path}: file name {current!r} appears twice '
                                f'under {masks_dir}; weak labels are keyed by '
                                'file name')

    def __len__(self) -> int:
        return len(self._paths)

    def __iter__(self) -> Iterator[MaskSample]:
        for path in self._paths:
            yield MaskSample(_stem(path), read_label_png(path), None)
