from .coco_metric import CocoMetric
from .iou_metric import IoUMetric, class_areas
from .voc_metric import VOCMetric

__all__ = ['CocoMetric', 'IoUMetric', 'VOCMetric', 'class_areas']
