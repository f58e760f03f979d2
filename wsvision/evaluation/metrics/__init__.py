from .coco_metric import CocoMetric
from .fewshot_coco_metric import FewShotCocoMetric
from .iou_metric import IoUMetric, class_areas
from .voc_metric import VOCMetric
from .person_search_metric import PersonSearchMetric

__all__ = ['CocoMetric', 'IoUMetric', 'VOCMetric', 'class_areas']
