from . import transforms
from .cityscapes import CityscapesSegDataset
from .coco import CocoDetDataset, FashionScenesDetDataset, LvisDetDataset
from .det_dataset import DetDataset
from .io import DataError
from .person_search import CUHKSYSUDataset, PRWDataset
from .seg_dataset import FashionScenesSegDataset, SegDataset
from .voc import SBDSegDataset, VOCSegDataset

__all__ = ['transforms', 'DataError', 'SegDataset', 'FashionScenesSegDataset',
           'DetDataset', 'CocoDetDataset', 'LvisDetDataset',
           'FashionScenesDetDataset', 'VOCSegDataset', 'SBDSegDataset',
           'CityscapesSegDataset', 'PRWDataset', 'CUHKSYSUDataset']
