"""PASCAL VOC box AP per class (Everingham et al., IJCV 2010).

For each class, detections from every image are ranked by score; a detection
is a true positive when its highest-IoU ground-truth box of that class (in the
same image) reaches the IoU threshold and was not matched by a higher-scoring
detection. A detection whose best box is ignored (``ignore_flags``, VOC's
"difficult") counts neither way, and ignored boxes are left out of the recall.
AP is the area under the interpolated precision-recall curve: over every
recall point (VOC 2010+) or at 11 recall levels (VOC 2007).
"""
from collections import defaultdict
from typing import Dict, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from torchvision.ops import box_iou

from ...registry import METRICS
from .coco_metric import detection_arrays

AP_MODES = ('area', '11points')


def average_precision(recall: np.ndarray, precision: np.ndarray,
                      mode: str = 'area') -> float:
    """AP from a precision-recall curve (points in ranking order).

    ``'area'``: precision is replaced by its running maximum from the right
    (the interpolated precision), then integrated over recall.
    ``'11points'``: mean of the interpolated precision at recall 0, 0.1, ..., 1.
    """
    if mode not in AP_MODES:
        raise ValueError(f'AP mode must be one of {AP_MODES}, got {mode!r}')
    if mode == '11points':
        return float(np.mean([precision[recall >= t].max(initial=0.0)
                              for t in np.linspace(0, 1, 11)]))
    recall = np.concatenate([[0.0], recall, [1.0]])
    precision = np.concatenate([[0.0], precision, [0.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.flatnonzero(recall[1:] != recall[:-1])
    return float(np.sum((recall[steps + 1] - recall[steps])
                        * precision[steps + 1]))


def class_tp_fp(detections, ground_truth, iou_thr: float):
    """Rank one class's detections and mark each true or false positive.

    detections: list of (image key, score, box (4,)).
    ground_truth: {image key: (boxes (m, 4), ignore (m,) bool)}.
    Returns (tp, fp) float arrays in ranking order; a detection on an ignored
    box has 0 in both.
    """
    detections = sorted(detections, key=lambda d: -d[1])
    tp, fp = np.zeros(len(detections)), np.zeros(len(detections))
    matched = {key: np.zeros(len(boxes), dtype=bool)
               for key, (boxes, _) in ground_truth.items()}
    for i, (key, _, box) in enumerate(detections):
        boxes, ignore = ground_truth.get(key, (np.zeros((0, 4)), np.zeros(0, bool)))
        if len(boxes) == 0:
            fp[i] = 1
            continue
        ious = box_iou(torch.as_tensor(box[None], dtype=torch.float64),
                       torch.as_tensor(boxes, dtype=torch.float64))[0].numpy()
        best = int(ious.argmax())
        if ious[best] < iou_thr:
            fp[i] = 1
        elif ignore[best]:
            continue
        elif not matched[key][best]:
            tp[i], matched[key][best] = 1, True
        else:
            fp[i] = 1
    return tp, fp


@METRICS.register_module()
class VOCMetric(BaseMetric):
    """VOC AP per class at one IoU threshold (AP50 by default) and their mean
    ``mAP`` over the classes that have ground truth; all in [0, 1].

    Args:
        iou_thr: IoU a detection needs with a ground-truth box to be correct.
        mode: ``'area'`` (all-point interpolation) or ``'11points'``.
    """

    default_prefix = 'voc'

    def __init__(self, iou_thr: float = 0.5, mode: str = 'area', **kwargs):
        super().__init__(**kwargs)
        if mode not in AP_MODES:
            raise ValueError(f'VOCMetric mode must be one of {AP_MODES}, '
                             f'got {mode!r}')
        self.iou_thr, self.mode = iou_thr, mode

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            arrays = detection_arrays(sample)
            if 'gt_bboxes' not in arrays:
                raise ValueError(f'{sample.get("img_path", "data sample")}: '
                                 'VOCMetric needs gt_instances in the samples')
            self.results.append(arrays)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        classes = self.dataset_meta['classes']
        detections = defaultdict(list)
        ground_truth = defaultdict(dict)
        for index, res in enumerate(results):
            for box, score, label in zip(res['pred_bboxes'], res['pred_scores'],
                                         res['pred_labels']):
                detections[int(label)].append((index, float(score), box))
            for k in np.unique(res['gt_labels']):
                of_class = res['gt_labels'] == k
                ground_truth[int(k)][index] = (res['gt_bboxes'][of_class],
                                               res['gt_ignore'][of_class])
        metrics, aps = {}, []
        for k, name in enumerate(classes):
            num_gt = sum(int((~ignore).sum())
                         for _, ignore in ground_truth[k].values())
            if num_gt == 0:
                continue
            tp, fp = class_tp_fp(detections[k], ground_truth[k], self.iou_thr)
            tp, fp = np.cumsum(tp), np.cumsum(fp)
            precision = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
            ap = average_precision(tp / num_gt, precision, self.mode)
            metrics[f'AP{round(self.iou_thr * 100)}_{name.replace("/", "_")}'] = ap
            aps.append(ap)
        metrics['mAP'] = float(np.mean(aps)) if aps else 0.0
        return metrics
