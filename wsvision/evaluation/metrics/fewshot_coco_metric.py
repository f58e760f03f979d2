"""COCO AP with the few-shot summary: nAP50 (novel), bAP50 (base) and AP."""
from typing import Dict, Sequence

import numpy as np

from ...registry import METRICS
from .coco_metric import CocoMetric


@METRICS.register_module()
class FewShotCocoMetric(CocoMetric):
    """``CocoMetric`` (class-wise) plus ``nAP50`` / ``bAP50`` and ``nAP`` /
    ``bAP``: the mean per-class AP50 / AP over the novel and the base
    classes (classes without ground truth in the split are left out; -1
    when none is left).

    Args:
        novel_classes: names of the novel classes; every other class of the
            dataset is a base class.
        **kwargs: ``CocoMetric`` arguments (``ann_file``...).
    """

    def __init__(self, novel_classes: Sequence[str], **kwargs):
        kwargs['classwise'] = True
        super().__init__(**kwargs)
        if not novel_classes:
            raise ValueError('FewShotCocoMetric: novel_classes is empty')
        self.novel_classes = tuple(novel_classes)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        classes = tuple(self.dataset_meta['classes'])
        unknown = [name for name in self.novel_classes if name not in classes]
        if unknown:
            raise ValueError(f'FewShotCocoMetric: novel class {unknown[0]!r} is '
                             f'not a dataset class ({classes})')
        metrics = super().compute_metrics(results)
        base = [name for name in classes if name not in self.novel_classes]
        for prefix, names in (('n', self.novel_classes), ('b', base)):
            for ap in ('AP50', 'AP'):
                values = [metrics[f'{ap}_{name.replace("/", "_")}']
                          for name in names]
                values = [v for v in values if v >= 0]
                metrics[f'{prefix}{ap}'] = (float(np.mean(values)) if values
                                            else -1.0)
        return metrics
