"""The unlabelled target domain of source-free adaptation.

``UnlabelledFashionScenesDataset`` reads a split's images without any label
(the FashionScenes ``foggy/train`` split: ``train/image_list.json``, COCO
``images`` entries). With ``hidden_ann_file`` it also carries that file's
instances as ``hidden_instances``: they are for pseudo-label diagnostics only
(``LoadHiddenAnnotations`` turns them into the ``hidden_bboxes`` /
``hidden_labels`` metainfo that a model compares its pseudo-labels with) and
never reach ``gt_instances``, so no loss can see them.
"""
import os.path as osp
from typing import List, Optional

import numpy as np

from ...datasets.coco import FashionScenesDetDataset
from ...datasets.io import DataError, check_file, load_json, require_keys
from ...datasets.transforms.formatting import DET_META_KEYS
from ...registry import DATASETS, TRANSFORMS

#: Metainfo keys of ``PackDetInputs`` that also carry the hidden ground truth.
HIDDEN_META_KEYS = DET_META_KEYS + ('hidden_bboxes', 'hidden_labels')


@DATASETS.register_module()
class UnlabelledFashionScenesDataset(FashionScenesDetDataset):
    """A FashionScenes split as images only.

    Args:
        data_root: the build folder (its ``meta.json`` names the classes).
        split: the split folder under ``data_root``.
        image_list: the COCO ``images`` list, relative to ``data_root``
            (default ``<split>/image_list.json``).
        hidden_ann_file: optional COCO JSON over the same images, relative to
            ``data_root``, whose instances become ``hidden_instances``.
        **kwargs: ``BaseDataset`` arguments (``pipeline``, ``test_mode``, ...).

    Every record has ``instances=[]``.
    """

    def __init__(self, data_root: str, split: str = 'train',
                 image_list: Optional[str] = None,
                 hidden_ann_file: Optional[str] = None, **kwargs):
        image_list = image_list or osp.join(split, 'image_list.json')
        self.image_list = osp.join(data_root, image_list)
        self.hidden = hidden_ann_file is not None
        super().__init__(data_root=data_root, split=split,
                         ann_file=hidden_ann_file or image_list, **kwargs)

    def load_data_list(self) -> List[dict]:
        if self.hidden:
            records = super().load_data_list()
            for record in records:
                record['hidden_instances'] = record.pop('instances')
                record['instances'] = []
            return records
        meta_path = check_file(osp.join(self.data_root, 'meta.json'),
                               'FashionScenes meta.json')
        meta = load_json(meta_path)
        require_keys(meta, ('classes', ), meta_path)
        self._set_classes(meta['classes'])
        images = load_json(check_file(self.image_list, 'image list'))
        if not isinstance(images, list):
            raise DataError(f'{self.image_list}: expected a list of COCO image '
                            f'entries, got {type(images).__name__}')
        records = []
        for i, image in enumerate(images):
            require_keys(image, self.IMAGE_KEYS, f'{self.image_list}[{i}]')
            img_path = check_file(osp.join(self.data_prefix['img'],
                                           image['file_name']), 'image')
            records.append(dict(img_id=image['id'], img_path=img_path,
                                height=int(image['height']),
                                width=int(image['width']), instances=[]))
        return records


@TRANSFORMS.register_module()
class LoadHiddenAnnotations:
    """``hidden_instances`` -> ``hidden_bboxes`` (N, 4) float32 xyxy and
    ``hidden_labels`` (N,) int64 (ignored instances dropped); the boxes join
    ``bbox_fields`` so flips and resizes move them with the image (crops,
    which drop instances by ``gt_bboxes``, do not apply to unlabelled images).
    Pack them with ``PackDetInputs(meta_keys=HIDDEN_META_KEYS)``."""

    def __call__(self, results: dict) -> dict:
        if 'hidden_instances' not in results:
            raise ValueError(f'{results.get("img_path", "sample")}: no '
                             '"hidden_instances"; build the dataset with '
                             'hidden_ann_file')
        kept = [inst for inst in results['hidden_instances']
                if not inst['ignore_flag']]
        results['hidden_bboxes'] = np.array(
            [inst['bbox'] for inst in kept], dtype=np.float32).reshape(-1, 4)
        results['hidden_labels'] = np.array(
            [inst['bbox_label'] for inst in kept], dtype=np.int64)
        results.setdefault('bbox_fields', []).append('hidden_bboxes')
        return results
