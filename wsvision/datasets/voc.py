"""PASCAL VOC 2012 and SBD segmentation, with the weak-label PNG sets of the
WSSS literature.

Both are configurations of ``SegDataset``: they only fix the folder layout,
the split files and the 21 class names. SBD's ``cls/*.mat`` labels are read by
``LoadSegAnnotations`` through ``read_label_map``, straight into memory.
"""
from typing import Optional

import numpy as np

from ..registry import DATASETS
from ..structures import UNLABELLED
from .seg_dataset import SegDataset

VOC_CLASSES = ('background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle',
               'bus', 'car', 'cat', 'chair', 'cow', 'diningtable', 'dog',
               'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa',
               'train', 'tvmonitor')


def unlabelled_lut(source_unlabelled: int) -> np.ndarray:
    """(256,) uint8 table mapping ``source_unlabelled`` to ``UNLABELLED``
    (254) and every other value to itself."""
    if not 0 <= source_unlabelled <= 255:
        raise ValueError(f'source_unlabelled must be in 0..255, got '
                         f'{source_unlabelled}')
    lut = np.arange(256, dtype=np.uint8)
    lut[source_unlabelled] = UNLABELLED
    return lut


@DATASETS.register_module()
class VOCSegDataset(SegDataset):
    """VOC 2012 segmentation: ``JPEGImages/*.jpg`` with palette PNG labels
    (class ids 0..20, 255 on object borders).

    Args:
        data_root: the ``VOCdevkit/VOC2012`` folder.
        split: ``ImageSets/Segmentation/<split>.txt`` (``train``, ``val``,
            ``trainval``, or an added ``train_aug``).
        split_file: another split file, relative to ``data_root``.
        seg_dir: dense labels: ``SegmentationClass``, or the SBD-augmented
            ``SegmentationClassAug``.
        weak_dir: a weak-label PNG set with the image stems as names, e.g.
            ScribbleSup's ``pascal_2012_scribble`` or a click (point) set.
            Training on it does not load dense labels unless
            ``keep_dense=True``.
        source_unlabelled: the value that marks unlabelled pixels in the weak
            PNGs. These sets use 255, which wsvision reserves for padding, so it
            is remapped to ``UNLABELLED`` (254) on read; ``None`` leaves the
            values as they are (sets already written with 254).
    """

    def __init__(self, data_root: str, split: str = 'train',
                 split_file: Optional[str] = None,
                 seg_dir: str = 'SegmentationClass',
                 weak_dir: Optional[str] = None,
                 source_unlabelled: Optional[int] = 255,
                 keep_dense: bool = False, **kwargs):
        self.label_luts = {}
        if weak_dir is not None and source_unlabelled is not None:
            self.label_luts['gt_weak_seg'] = unlabelled_lut(source_unlabelled)
        super().__init__(
            data_root=data_root, img_dir='JPEGImages',
            seg_dir=seg_dir if weak_dir is None or keep_dense else None,
            weak_dir=weak_dir,
            split_file=split_file or f'ImageSets/Segmentation/{split}.txt',
            img_suffix='.jpg', seg_suffix='.png', classes=VOC_CLASSES, **kwargs)

    def load_data_list(self):
        data_list = super().load_data_list()
        if not self.label_luts:
            return data_list
        return [dict(info, label_luts=self.label_luts) for info in data_list]


@DATASETS.register_module()
class SBDSegDataset(SegDataset):
    """Semantic Boundaries Dataset (the ``benchmark_RELEASE`` folder):
    ``dataset/img/*.jpg`` with ``dataset/cls/*.mat`` labels (``GTcls``
    struct, class ids 0..20 in its ``Segmentation`` field) and split files
    ``dataset/{train,val}.txt``.
    """

    def __init__(self, data_root: str, split: str = 'train', **kwargs):
        super().__init__(data_root=data_root, img_dir='dataset/img',
                         seg_dir='dataset/cls', split_file=f'dataset/{split}.txt',
                         img_suffix='.jpg', seg_suffix='.mat',
                         classes=VOC_CLASSES, **kwargs)
