"""Mean intersection-over-union for semantic segmentation.

Per sample we keep the per-class intersection, prediction and label areas;
``compute_metrics`` sums them over the dataset (MMEngine gathers the per-sample
results from every rank first), so the mIoU is the dataset-level one, not a
mean of per-image IoUs.

With a ``background_index`` the metric also splits the errors in two, as
the errors of weak labels differ from those of full supervision:

- ``fgIoU``, the IoU of "some object" against background: how well the
  extent of the objects is found, whatever their class;
- ``fgAcc``, of the pixels that both the labels and the prediction call an
  object, the fraction given the right class: how well the objects are
  recognised.
"""
from collections import OrderedDict
from typing import Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from ...registry import METRICS
from ...structures import IGNORE_INDEX


def class_areas(pred: torch.Tensor, label: torch.Tensor, num_classes: int,
                ignore_index: int = IGNORE_INDEX):
    """pred, label: (H, W) ints -> (intersect, pred_area, label_area), each (K,)."""
    valid = label != ignore_index
    pred, label = pred[valid], label[valid]
    intersect = pred[pred == label]
    return tuple(torch.bincount(x.long(), minlength=num_classes)
                 for x in (intersect, pred, label))


@METRICS.register_module()
class IoUMetric(BaseMetric):
    """mIoU, per-class IoU and pixel accuracy (aAcc), in [0, 1].

    Classes absent from both predictions and labels are left out of the mean.

    Args:
        ignore_index: label value of the pixels that are not scored.
        background_index: the background class; when given, ``fgIoU`` and
            ``fgAcc`` (module doc) are reported too.
    """

    default_prefix = ''

    def __init__(self, ignore_index: int = IGNORE_INDEX,
                 background_index: Optional[int] = None, **kwargs):
        super().__init__(**kwargs)
        self.ignore_index = ignore_index
        self.background_index = background_index

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        num_classes = len(self.dataset_meta['classes'])
        if (self.background_index is not None
                and not 0 <= self.background_index < num_classes):
            raise ValueError(f'IoUMetric background_index {self.background_index} '
                             f'is not a class id of the {num_classes} classes')
        for sample in data_samples:
            pred = sample['pred_sem_seg']['data'][0].cpu()
            label = sample['gt_sem_seg']['data'][0].to(pred)
            valid_labels = label[label != self.ignore_index]
            if valid_labels.numel() and valid_labels.max() >= num_classes:
                raise ValueError(
                    f'label map of {sample.get("img_path", "?")} holds class id '
                    f'{int(valid_labels.max())} but the dataset has '
                    f'{num_classes} classes')
            self.results.append(tuple(a.numpy() for a in class_areas(
                pred, label, num_classes, self.ignore_index))
                + self._foreground_areas(pred, label))

    def _foreground_areas(self, pred: torch.Tensor, label: torch.Tensor) -> tuple:
        """(pixels both call an object, of those the ones of the right
        class, predicted object pixels, labelled object pixels), or () without
        a background class."""
        if self.background_index is None:
            return ()
        valid = label != self.ignore_index
        pred_fg = valid & (pred != self.background_index)
        label_fg = valid & (label != self.background_index)
        both = pred_fg & label_fg
        return (np.array([int(both.sum()), int((both & (pred == label)).sum()),
                          int(pred_fg.sum()), int(label_fg.sum())]), )

    def compute_metrics(self, results: list) -> dict:
        intersect, pred_area, label_area = (np.sum(a, axis=0)
                                            for a in list(zip(*results))[:3])
        union = pred_area + label_area - intersect
        present = union > 0
        iou = np.where(present, intersect / np.maximum(union, 1), np.nan)
        metrics = OrderedDict(
            mIoU=float(np.nanmean(iou)),
            aAcc=float(intersect.sum() / max(label_area.sum(), 1)))
        for name, value in zip(self.dataset_meta['classes'], iou):
            metrics[f'IoU.{name}'] = float(value)
        if self.background_index is not None:
            both, right, pred_fg, label_fg = np.sum([r[3] for r in results], axis=0)
            metrics['fgIoU'] = float(both / max(pred_fg + label_fg - both, 1))
            metrics['fgAcc'] = float(right / max(both, 1))
        return metrics
