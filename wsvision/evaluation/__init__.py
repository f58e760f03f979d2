from .metrics import CocoMetric, IoUMetric, VOCMetric

__all__ = ['CocoMetric', 'IoUMetric', 'VOCMetric']
