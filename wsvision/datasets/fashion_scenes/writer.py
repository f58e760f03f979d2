"""Writing composed scenes as PNG images, PNG label maps and COCO JSON.

One split folder holds ``images/<id>.png`` (RGB), ``<mask_dir>/<id>.png``
(uint8 class ids, 0 = background) and a COCO instances file. Each annotation
describes one *visible* instance mask: ``bbox`` [x, y, w, h] is tight around
its visible pixels, ``area`` counts them and ``segmentation`` is their COCO
RLE. FashionScenes adds ``z_order`` (0 = bottom), ``source_index`` (index of
the item in its Fashion-MNIST split) and ``visible_fraction``.
"""
import json
import os
import shutil

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from ..io import DataError, write_label_png
from .compose import Scene
from .source import FASHION_CLASSES

#: COCO categories: Fashion-MNIST label i is category id i + 1.
COCO_CATEGORIES = [{'id': i + 1, 'name': name}
                   for i, name in enumerate(FASHION_CLASSES)]


def scene_file_name(scene_id: int) -> str:
    return f'{scene_id:06d}.png'


def tight_box(mask: np.ndarray) -> list:
    """[x, y, w, h] of the smallest pixel box holding every True of ``mask``
    (H, W); w and h count pixels, as in COCO."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return [int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1),
            int(rows[-1] - rows[0] + 1)]


def encode_rle(mask: np.ndarray) -> dict:
    """COCO RLE of a (H, W) bool mask, with ``counts`` as str (JSON-ready)."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    return rle


def write_json(path: str, payload) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(payload, f, separators=(',', ':'))


def coco_subset(coco: dict, annotations: list, info: dict,
                keep_images=None) -> dict:
    """A COCO dict with ``coco``'s images and categories and the given
    ``annotations``. ``keep_images``: image ids to keep (default: all)."""
    images = coco['images'] if keep_images is None else [
        image for image in coco['images'] if image['id'] in keep_images]
    return {'info': info, 'images': images, 'annotations': annotations,
            'categories': coco['categories']}


class SplitWriter:
    """Writes scenes of one split into ``split_dir``; call ``close`` to write
    the COCO file.

    Args:
        split_dir: folder of the split. Its ``images``, mask folder and COCO
            file are replaced, so a rebuild never leaves stale scenes behind;
            other files there (e.g. weak labels under ``weak/``) are kept.
        mask_dir: sub-folder for the label maps ('masks', or a hidden name
            for splits whose labels must not be used for training).
        instances_name: file name of the COCO JSON.
        keep_source_index: write ``source_index`` in each annotation (off
            where it would reveal hidden identities).
    """

    def __init__(self, split_dir: str, mask_dir: str = 'masks',
                 instances_name: str = 'instances.json',
                 keep_source_index: bool = True):
        self.split_dir = split_dir
        self.mask_dir = mask_dir
        self.instances_path = os.path.join(split_dir, instances_name)
        self.keep_source_index = keep_source_index
        if os.path.isfile(self.instances_path):
            os.remove(self.instances_path)
        for folder in ('images', mask_dir):
            path = os.path.join(split_dir, folder)
            if os.path.isdir(path):
                shutil.rmtree(path)
            os.makedirs(path)
        self.images, self.annotations = [], []

    def add(self, scene_id: int, scene: Scene, extra_fields=None) -> list:
        """Write ``scene`` as ``scene_id``; returns its annotations.

        ``extra_fields``: optional list, one dict per ``scene.items`` entry,
        merged into that item's annotation.
        """
        name = scene_file_name(scene_id)
        image_path = os.path.join(self.split_dir, 'images', name)
        if not cv2.imwrite(image_path,
                           cv2.cvtColor(scene.image, cv2.COLOR_RGB2BGR)):
            raise DataError(f'could not write {image_path}')
        write_label_png(os.path.join(self.split_dir, self.mask_dir, name),
                        scene.semantic_mask())
        height, width = scene.owner.shape
        self.images.append({'id': scene_id, 'file_name': f'images/{name}',
                            'height': height, 'width': width})
        added = []
        for index, item in enumerate(scene.items):
            visible = scene.visible_mask(index)
            annotation = {
                'id': len(self.annotations) + 1,  # COCOeval needs ids >= 1
                'image_id': scene_id, 'category_id': item.category_id,
                'bbox': tight_box(visible), 'area': item.visible_area,
                'segmentation': encode_rle(visible), 'iscrowd': 0,
                'z_order': item.z_order,
                'visible_fraction': round(item.visible_fraction, 6)}
            if self.keep_source_index:
                annotation['source_index'] = item.source_index
            if extra_fields is not None:
                annotation.update(extra_fields[index])
            self.annotations.append(annotation)
            added.append(annotation)
        return added

    def coco(self) -> dict:
        return {'images': self.images, 'annotations': self.annotations,
                'categories': COCO_CATEGORIES}

    def close(self) -> dict:
        """Write the COCO JSON and return it."""
        coco = self.coco()
        write_json(self.instances_path, coco)
        return coco
