"""Semantic-segmentation datasets over image folders and label-PNG folders.

``SegDataset`` is the generic VOC-style loader: ``img_dir/<stem><img_suffix>``
paired with ``seg_dir/<stem><seg_suffix>``, and optionally a weak-label folder
(scribbles, points, blocks) with the same stems. ``FashionScenesSegDataset``
points it at one split of a FashionScenes build.
"""
import os
import os.path as osp
from typing import List, Optional, Sequence

from mmengine.dataset import BaseDataset

from ..registry import DATASETS
from .io import DataError, check_dir, check_file, load_json


@DATASETS.register_module()
class SegDataset(BaseDataset):
    """Images plus dense and/or weak label maps.

    Args:
        data_root: folder that ``img_dir``, ``seg_dir`` and ``weak_dir`` are
            relative to.
        img_dir: image folder.
        seg_dir: dense label folder (class ids, 255 = ignore); ``None`` for
            weak-only training.
        weak_dir: weak label folder (class ids, 254 = unlabelled, 255 = ignore).
        split_file: optional text file with one stem per line; default: every
            image in ``img_dir``.
        classes: class names, index = label value.
    """

    def __init__(self, data_root: str, img_dir: str, seg_dir: Optional[str],
                 weak_dir: Optional[str] = None, split_file: Optional[str] = None,
                 img_suffix: str = '.png', seg_suffix: str = '.png',
                 classes: Optional[Sequence[str]] = None, **kwargs):
        self.img_dir, self.seg_dir, self.weak_dir = img_dir, seg_dir, weak_dir
        self.split_file = split_file
        self.img_suffix, self.seg_suffix = img_suffix, seg_suffix
        metainfo = kwargs.pop('metainfo', None) or {}
        if classes is not None:
            metainfo = dict(metainfo, classes=tuple(classes))
        super().__init__(data_root=data_root, metainfo=metainfo, **kwargs)

    def _path(self, folder: str) -> str:
        return folder if osp.isabs(folder) else osp.join(self.data_root, folder)

    def _stems(self) -> List[str]:
        img_dir = check_dir(self._path(self.img_dir), 'image folder')
        if self.split_file is not None:
            with open(check_file(self._path(self.split_file), 'split file')) as f:
                return [line.strip() for line in f if line.strip()]
        return sorted(name[:-len(self.img_suffix)] for name in os.listdir(img_dir)
                      if name.endswith(self.img_suffix))

    def load_data_list(self) -> List[dict]:
        data_list = []
        for stem in self._stems():
            info = dict(img_path=check_file(
                osp.join(self._path(self.img_dir), stem + self.img_suffix), 'image'))
            for key, folder in (('seg_map_path', self.seg_dir),
                                ('weak_seg_path', self.weak_dir)):
                if folder is not None:
                    info[key] = check_file(osp.join(
                        self._path(folder), stem + self.seg_suffix), 'label map')
            data_list.append(info)
        if not data_list:
            raise DataError(f'no images ending in {self.img_suffix!r} in '
                            f'{self._path(self.img_dir)}')
        return data_list


def check_weak_record(record, weak_label: str, where: str) -> list:
    """A ``tags`` record must be a list of class ids and a ``boxes`` record a
    list of ``[x1, y1, x2, y2, class_id]`` rows with x1 < x2 and y1 < y2."""
    if not isinstance(record, list):
        raise DataError(f'{where}: expected a list, got {type(record).__name__}')
    for index, item in enumerate(record):
        if weak_label == 'tags':
            ok = isinstance(item, int) and not isinstance(item, bool) and item >= 0
            expected = 'a non-negative class id'
        else:
            ok = (isinstance(item, list) and len(item) == 5
                  and all(isinstance(v, (int, float)) for v in item)
                  and item[0] < item[2] and item[1] < item[3]
                  and isinstance(item[4], int) and item[4] >= 0)
            expected = '[x1, y1, x2, y2, class_id] with x1 < x2 and y1 < y2'
        if not ok:
            raise DataError(f'{where}: item {index} is {item!r}, expected '
                            f'{expected}')
    return record


@DATASETS.register_module()
class FashionScenesSegDataset(SegDataset):
    """One split of a FashionScenes build (see ``tools/data/build_fashion_scenes.py``).

    Args:
        data_root: the build folder (holds ``meta.json``).
        split: ``train``, ``val`` or ``test``.
        weak_label: ``None`` for dense labels, or a weak-label set written by
            ``tools/data/make_weak_labels.py``: a PNG folder (``scribbles``,
            ``points``, ``blocks50`` ...) or a JSON record per image
            (``tags``: ``weak_tags`` = [class ids]; ``boxes``: ``weak_boxes``
            = [[x1, y1, x2, y2, class_id], ...], x2 and y2 exclusive; see
            ``LoadWeakSegAnnotations``). Training on weak labels does not
            load the dense masks unless ``keep_dense=True`` (for diagnostics
            only).
    """

    #: Weak-label sets stored as ``<split>/weak/<name>.json`` ({stem: record})
    #: rather than as a PNG folder, and the data-info key of each record.
    JSON_WEAK_LABELS = {'tags': 'weak_tags', 'boxes': 'weak_boxes'}

    def __init__(self, data_root: str, split: str = 'train',
                 weak_label: Optional[str] = None, keep_dense: bool = False,
                 **kwargs):
        meta = load_json(osp.join(check_dir(data_root, 'FashionScenes folder'),
                                  'meta.json'))
        if 'seg_classes' not in meta:
            raise DataError(f'{osp.join(data_root, "meta.json")}: missing key '
                            "'seg_classes'")
        self.weak_label = weak_label
        self.weak_json = None
        weak_dir = None
        if weak_label in self.JSON_WEAK_LABELS:
            self.weak_json = osp.join(split, 'weak', f'{weak_label}.json')
        elif weak_label is not None:
            weak_dir = osp.join(split, 'weak', weak_label)
        seg_dir = osp.join(split, 'masks') if (weak_label is None
                                               or keep_dense) else None
        super().__init__(data_root=data_root, img_dir=osp.join(split, 'images'),
                         seg_dir=seg_dir, weak_dir=weak_dir,
                         classes=meta['seg_classes'], **kwargs)

    def load_data_list(self) -> List[dict]:
        data_list = super().load_data_list()
        if self.weak_json is None:
            return data_list
        path = self._path(self.weak_json)
        records = load_json(path)
        if not isinstance(records, dict):
            raise DataError(f'{path}: expected an object {{file stem: '
                            f'record}}, got {type(records).__name__}')
        key = self.JSON_WEAK_LABELS[self.weak_label]
        for info in data_list:
            stem = osp.basename(info['img_path'])[:-len(self.img_suffix)]
            if stem not in records:
                raise DataError(f'{path}: missing key {stem!r}')
            info[key] = check_weak_record(records[stem], self.weak_label,
                                          f'{path}: key {stem!r}')
        return data_list

