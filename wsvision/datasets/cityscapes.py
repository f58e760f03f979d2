"""Cityscapes semantic segmentation with the 19 evaluation classes.

Images are ``leftImg8bit/<split>/<city>/<name>_leftImg8bit.png`` and labels
``gtFine/<split>/<city>/<name>_gtFine_labelIds.png``. The label files hold the
34 raw label ids; they are mapped to the 19 train ids (255 = ignore) when
read, with the table of the official ``cityscapesScripts`` ``labels.py``.
"""
import os
import os.path as osp
from typing import List

import numpy as np

from ..registry import DATASETS
from ..structures import IGNORE_INDEX
from .io import check_dir
from .seg_dataset import SegDataset

CITYSCAPES_CLASSES = ('road', 'sidewalk', 'building', 'wall', 'fence', 'pole',
                      'traffic light', 'traffic sign', 'vegetation', 'terrain',
                      'sky', 'person', 'rider', 'car', 'truck', 'bus', 'train',
                      'motorcycle', 'bicycle')

#: label id -> train id for the 19 evaluated classes; every other id
#: (unlabeled, ego vehicle, ..., parking, rail track, guard rail, bridge,
#: tunnel, polegroup, caravan, trailer, license plate) is ignored.
LABEL_ID_TO_TRAIN_ID = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7,
                        21: 8, 22: 9, 23: 10, 24: 11, 25: 12, 26: 13, 27: 14,
                        28: 15, 31: 16, 32: 17, 33: 18}


def label_id_lut() -> np.ndarray:
    """(256,) uint8 table: label id -> train id, ``IGNORE_INDEX`` elsewhere."""
    lut = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    for label_id, train_id in LABEL_ID_TO_TRAIN_ID.items():
        lut[label_id] = train_id
    return lut


@DATASETS.register_module()
class CityscapesSegDataset(SegDataset):
    """One split (``train``, ``val`` or ``test``) of Cityscapes fine labels.

    Args:
        data_root: the folder holding ``leftImg8bit`` and ``gtFine``.
        split: the split folder name.
        **kwargs: ``SegDataset`` arguments (``split_file`` with
            ``<city>/<name>`` stems, ``weak_dir``, ``pipeline`` ...).
    """

    def __init__(self, data_root: str, split: str = 'train', **kwargs):
        super().__init__(data_root=data_root,
                         img_dir=osp.join('leftImg8bit', split),
                         seg_dir=osp.join('gtFine', split),
                         img_suffix='_leftImg8bit.png',
                         seg_suffix='_gtFine_labelIds.png',
                         classes=CITYSCAPES_CLASSES, **kwargs)

    def _stems(self) -> List[str]:
        """``<city>/<name>`` for every image in the split's city folders."""
        if self.split_file is not None:
            return super()._stems()
        img_dir = check_dir(self._path(self.img_dir), 'image folder')
        cities = sorted(city for city in os.listdir(img_dir)
                        if osp.isdir(osp.join(img_dir, city)))
        return [osp.join(city, name[:-len(self.img_suffix)])
                for city in cities
                for name in sorted(os.listdir(osp.join(img_dir, city)))
                if name.endswith(self.img_suffix)]

    def load_data_list(self) -> List[dict]:
        luts = {'gt_seg_map': label_id_lut()}
        return [dict(info, label_luts=luts) for info in super().load_data_list()]
