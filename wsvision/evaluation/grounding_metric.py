"""Grounding F1 over connected components, per tracer and overall.

For each (volume, sentence) pair the prediction is split into 26-connected
components; components of ``min_voxels`` voxels or fewer are ignored. A
component that overlaps the referenced lesion is a true positive (several
fragments of that lesion count once); every other component is a false
positive; a referenced lesion that no component overlaps is a false
negative. Over a set of pairs, F1 = TP / (TP + 0.5 (FP + FN)).

The paper identifies the referenced lesion by its SUVmax (within 0.1)
because its test lesions were marked by their maxima; with a mask of the
referenced lesion, overlap is the direct test.
"""
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from scipy import ndimage

from ..registry import METRICS

TWENTY_SIX_CONNECTED = np.ones((3, 3, 3), dtype=bool)


def component_counts(pred: np.ndarray, gt: np.ndarray,
                     min_voxels: int = 8) -> Dict[str, int]:
    """TP, FP and FN of one prediction.

    Args:
        pred: (X, Y, Z) bool prediction.
        gt: (X, Y, Z) bool referenced lesion.
        min_voxels: predicted components of at most this size are ignored.
    """
    labels, count = ndimage.label(pred, structure=TWENTY_SIX_CONNECTED)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    kept = np.flatnonzero(sizes > min_voxels)
    kept = kept[kept > 0]
    hits = np.unique(labels[gt & (labels > 0)])
    true_positive = int(np.isin(kept, hits).any())
    return dict(tp=true_positive,
                fp=int(len(kept) - np.isin(kept, hits).sum()),
                fn=1 - true_positive)


def f1_score(tp: int, fp: int, fn: int) -> float:
    """TP / (TP + 0.5 (FP + FN)); NaN when there is nothing to count."""
    denominator = tp + 0.5 * (fp + fn)
    return tp / denominator if denominator else float('nan')


@METRICS.register_module()
class GroundingF1Metric(BaseMetric):
    """Component-level F1 of predicted lesions, per tracer and overall.

    Data samples (``GroundingDataSample`` or the dicts the evaluator makes of
    them) need ``pred_mask`` and ``gt_mask`` (1, X, Y, Z) and ``tracer``.

    Args:
        min_voxels: ignore predicted components of this many voxels or fewer.
        tracers: report these tracers even when absent (as NaN).
    """

    default_prefix = 'grounding'

    def __init__(self, min_voxels: int = 8,
                 tracers: Optional[Sequence[str]] = None,
                 collect_device: str = 'cpu', prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.min_voxels = min_voxels
        self.tracers = list(tracers or [])

    def process(self, data_batch, data_samples: Sequence) -> None:
        for sample in data_samples:
            if hasattr(sample, 'to_dict'):
                sample = sample.to_dict()
            pred = _to_numpy(sample.get('pred_mask'), 'pred_mask')
            gt = _to_numpy(sample.get('gt_mask'), 'gt_mask')
            if pred.shape != gt.shape:
                raise ValueError(f'pred_mask {pred.shape} and gt_mask '
                                 f'{gt.shape} differ in shape')
            counts = component_counts(pred[0] > 0, gt[0] > 0, self.min_voxels)
            self.results.append(dict(counts, tracer=sample['tracer']))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        totals = defaultdict(lambda: dict(tp=0, fp=0, fn=0))
        for result in results:
            for group in ('overall', result['tracer']):
                for key in ('tp', 'fp', 'fn'):
                    totals[group][key] += result[key]
        for tracer in self.tracers:
            totals.setdefault(tracer, dict(tp=0, fp=0, fn=0))
        metrics = {'f1': f1_score(**totals['overall'])}
        metrics.update({f'{key}': totals['overall'][key]
                        for key in ('tp', 'fp', 'fn')})
        for group in sorted(k for k in totals if k != 'overall'):
            metrics[f'f1_{group}'] = f1_score(**totals[group])
        return metrics


def _to_numpy(value, name: str) -> np.ndarray:
    if value is None:
        raise ValueError(f'GroundingF1Metric needs {name} in every data '
                         'sample')
    return value.detach().cpu().numpy() if hasattr(value, 'detach') \
        else np.asarray(value)
