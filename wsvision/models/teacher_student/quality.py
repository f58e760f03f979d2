"""Pseudo-label precision and recall against hidden ground truth.

The ground truth comes from annotations the benchmark keeps for evaluation
(e.g. the test stream of PS-TTL, the FashionScenes foggy / ovd train
splits); it is only ever compared with pseudo-labels, never used in a loss.

Protocol: a model that produces pseudo-labels keeps ``self.pl_stats``, a
dict with integer counts ``tp``, ``num_pred`` and ``num_gt`` summed over the
current iteration's images (``pseudo_label_quality`` per image, added with
``add_pl_stats``). ``PseudoLabelQualityLog`` reads and resets it after each
iteration, all-reduces the counts over the ranks and records precision and
recall; ``PseudoLabelQualityHook`` does that during training and writes
``pl_quality.json`` and ``pl_quality.png`` into the work dir at the end. A
model may add integer counts of its own to ``pl_stats`` (the same keys on
every rank, e.g. PS-TTL's soft-label accuracy counts); they are all-reduced,
recorded and totalled alongside.
"""
import json
import os.path as osp
from typing import Dict, Optional, Tuple

import torch
from mmengine.dist import all_reduce, is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.structures import InstanceData
from torchvision.ops import box_iou

from ...registry import HOOKS

STAT_KEYS = ('tp', 'num_pred', 'num_gt')


def pseudo_label_quality(pred: InstanceData, gt: InstanceData,
                         iou_thr: float = 0.5) -> Tuple[int, int, int]:
    """(true positives, number of pseudo-labels, number of ground truths).

    Pseudo-labels are matched greedily in decreasing score order to the
    unmatched ground-truth box of the same class with the highest IoU, when
    that IoU >= ``iou_thr`` (the VOC / COCO matching rule).
    """
    num_pred, num_gt = len(pred), len(gt)
    if num_pred == 0 or num_gt == 0:
        return 0, num_pred, num_gt
    ious = box_iou(pred.bboxes.float(), gt.bboxes.float().to(pred.bboxes.device))
    same_class = pred.labels[:, None] == gt.labels.to(pred.labels.device)[None]
    ious = torch.where(same_class, ious, torch.full_like(ious, -1.0))
    order = (torch.argsort(pred.scores, descending=True)
             if 'scores' in pred else torch.arange(num_pred))
    taken = torch.zeros(num_gt, dtype=torch.bool, device=ious.device)
    tp = 0
    for i in order.tolist():
        candidates = torch.where(taken, torch.full_like(ious[i], -1.0), ious[i])
        best = int(candidates.argmax())
        if candidates[best] >= iou_thr:
            taken[best] = True
            tp += 1
    return tp, num_pred, num_gt


def add_pl_stats(stats: Dict[str, int], pred: InstanceData, gt: InstanceData,
                 iou_thr: float = 0.5) -> None:
    """Add one image's ``pseudo_label_quality`` to a ``pl_stats`` dict."""
    for key, value in zip(STAT_KEYS, pseudo_label_quality(pred, gt, iou_thr)):
        stats[key] = stats.get(key, 0) + value


class PseudoLabelQualityLog:
    """Per-iteration pseudo-label precision / recall of a model's
    ``pl_stats`` (see module doc), summed over the ranks."""

    def __init__(self):
        self.history = []
        self.totals = dict.fromkeys(STAT_KEYS, 0)

    def collect(self, model, step: int) -> Optional[Dict[str, float]]:
        """Read and reset ``model.pl_stats``; returns this iteration's
        counts with ``pl_precision`` / ``pl_recall`` (None when the model has
        no stats). Every rank must call it (the counts are all-reduced)."""
        model = model.module if is_model_wrapper(model) else model
        stats = getattr(model, 'pl_stats', None)
        if stats is None:
            return None
        keys = list(STAT_KEYS) + sorted(set(stats) - set(STAT_KEYS))
        counts = torch.tensor([float(stats.get(k, 0)) for k in keys])
        all_reduce(counts)
        model.pl_stats = {}
        record = dict(step=step, **{k: int(v) for k, v in zip(keys, counts.tolist())})
        for key in keys:
            self.totals[key] = self.totals.get(key, 0) + record[key]
        tp, num_pred, num_gt = (record[k] for k in STAT_KEYS)
        record.update(pl_precision=tp / num_pred if num_pred else float('nan'),
                      pl_recall=tp / num_gt if num_gt else float('nan'))
        self.history.append(record)
        return record

    def summary(self) -> Dict[str, float]:
        tp, num_pred, num_gt = (self.totals[k] for k in STAT_KEYS)
        return dict(self.totals,  # with any counts of the model's own
                    pl_precision=tp / num_pred if num_pred else float('nan'),
                    pl_recall=tp / num_gt if num_gt else float('nan'))

    def dump(self, work_dir: str, name: str = 'pl_quality') -> None:
        """Write ``<name>.json`` (history + totals) and ``<name>.png``
        (precision and recall vs iteration) on the main process."""
        if not is_main_process():
            return
        with open(osp.join(work_dir, f'{name}.json'), 'w') as f:
            # Strict JSON: an undefined ratio (no PL / no GT) is null.
            json.dump(dict(history=[_nan_to_none(r) for r in self.history],
                           total=_nan_to_none(self.summary())), f, indent=1)
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6, 3.5))
        steps = [r['step'] for r in self.history]
        for key in ('pl_precision', 'pl_recall'):
            ax.plot(steps, [r[key] for r in self.history], label=key[3:])
        ax.set_xlabel('iteration')
        ax.set_ylim(0, 1.02)
        ax.set_title('pseudo-label quality vs hidden ground truth')
        ax.legend()
        fig.tight_layout()
        fig.savefig(osp.join(work_dir, f'{name}.png'), dpi=100)
        plt.close(fig)


def _nan_to_none(record: dict) -> dict:
    return {k: None if isinstance(v, float) and v != v else v for k, v in record.items()}


@HOOKS.register_module()
class PseudoLabelQualityHook(Hook):
    """Log ``train/pl_precision`` and ``train/pl_recall`` every iteration
    and write ``pl_quality.json`` / ``pl_quality.png`` after training."""

    priority = 'LOW'

    def __init__(self):
        self.log = PseudoLabelQualityLog()

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        record = self.log.collect(runner.model, runner.iter)
        if record is None:
            return
        for key in ('pl_precision', 'pl_recall'):
            if record[key] == record[key]:  # skip NaN (no PL / no GT)
                runner.message_hub.update_scalar(f'train/{key}', record[key])

    def after_train(self, runner) -> None:
        self.log.dump(runner.work_dir)
