"""COCO box AP through pycocotools.

Ground truth comes from the dataset's own COCO JSON when the config names it
(``ann_file``), so the numbers are exactly the official ones; otherwise a COCO
index is built from the ground-truth instances that travel with the data
samples. Predictions and ground truth are compared in original-image pixels.
"""
import contextlib
import io
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from ...datasets.io import check_file
from ...models.detectors.faster_rcnn import to_original_image
from ...registry import METRICS

#: COCOeval's ``stats`` entries reported by ``CocoMetric``, by index.
COCO_STATS = OrderedDict(AP=0, AP50=1, AP75=2, AP_small=3, AP_medium=4,
                         AP_large=5)


def detection_arrays(sample: Mapping) -> dict:
    """One evaluated sample (``DetDataSample.to_dict()``) -> numpy arrays in
    original-image pixels.

    Returns ``img_id``, ``ori_shape``, ``pred_bboxes`` (n, 4) xyxy,
    ``pred_scores`` (n,), ``pred_labels`` (n,) and, when the sample carries
    ground truth, ``gt_bboxes`` (m, 4), ``gt_labels`` (m,) and ``gt_ignore``
    (m,) bool: ``gt_instances`` followed by ``ignored_instances``.
    Predictions are expected in original pixels already (the detector's
    ``predict`` rescales them); ground truth is rescaled with the sample's
    ``scale_factor``.
    """
    where = sample.get('img_path', 'data sample')
    for key in ('img_id', 'ori_shape', 'pred_instances'):
        if key not in sample:
            raise ValueError(f'{where}: evaluated sample has no {key!r}')
    pred = sample['pred_instances']
    arrays = dict(img_id=sample['img_id'],
                  ori_shape=tuple(sample['ori_shape'][:2]),
                  pred_bboxes=pred['bboxes'].detach().cpu().numpy().reshape(-1, 4),
                  pred_scores=pred['scores'].detach().cpu().numpy(),
                  pred_labels=pred['labels'].detach().cpu().numpy())
    if 'gt_instances' in sample:
        # Ignored instances (crowds, degenerate boxes) are evaluated as COCO
        # crowds: detections on them count neither way.
        groups = [(sample['gt_instances'], False)]
        if 'ignored_instances' in sample:
            groups.append((sample['ignored_instances'], True))
        bboxes = torch.cat([g['bboxes'].detach().float().cpu().reshape(-1, 4)
                            for g, _ in groups])
        arrays.update(
            gt_bboxes=to_original_image(bboxes, sample).numpy(),
            gt_labels=torch.cat([g['labels'].detach().cpu().reshape(-1)
                                 for g, _ in groups]).numpy(),
            gt_ignore=np.concatenate([np.full(len(g['labels']), ignore)
                                      for g, ignore in groups]))
    return arrays


def xyxy_to_xywh(bboxes: np.ndarray) -> List[List[float]]:
    boxes = np.asarray(bboxes, dtype=np.float64).reshape(-1, 4).copy()
    boxes[:, 2:] -= boxes[:, :2]
    return boxes.tolist()


def coco_from_instances(results: Sequence[dict],
                        classes: Sequence[str]) -> COCO:
    """A COCO ground-truth index from ``detection_arrays`` results; category
    ``i + 1`` is class ``i``."""
    images, annotations = [], []
    for res in results:
        if 'gt_bboxes' not in res:
            raise ValueError(f'image {res["img_id"]} has no gt_instances and '
                             'CocoMetric has no ann_file to read them from')
        height, width = res['ori_shape']
        images.append(dict(id=res['img_id'], height=height, width=width))
        for box, label, ignore in zip(xyxy_to_xywh(res['gt_bboxes']),
                                      res['gt_labels'], res['gt_ignore']):
            annotations.append(dict(
                id=len(annotations) + 1,  # COCOeval treats id 0 as "unmatched"
                image_id=res['img_id'], category_id=int(label) + 1, bbox=box,
                area=box[2] * box[3], iscrowd=int(ignore)))
    return coco_index(dict(images=images, annotations=annotations,
                           categories=[dict(id=i + 1, name=name)
                                       for i, name in enumerate(classes)]))


def coco_index(dataset: dict) -> COCO:
    coco = COCO()
    coco.dataset = dataset
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def coco_detections(gt: COCO, results: Sequence[dict],
                    cat_ids: Sequence[int]) -> COCO:
    """The predictions as a COCO index over the same images and categories.

    Built directly rather than with ``COCO.loadRes``, which rejects an empty
    detection list (a model that detects nothing must score 0, not crash).
    """
    detections = []
    for res in results:
        for box, score, label in zip(xyxy_to_xywh(res['pred_bboxes']),
                                     res['pred_scores'], res['pred_labels']):
            detections.append(dict(
                id=len(detections) + 1, image_id=res['img_id'],
                category_id=cat_ids[int(label)], bbox=box,
                score=float(score), area=box[2] * box[3], iscrowd=0))
    return coco_index(dict(images=gt.dataset['images'], annotations=detections,
                           categories=gt.dataset['categories']))


def per_class_ap(precision: np.ndarray, class_index: int,
                 iou_index: Optional[int] = None) -> float:
    """AP of one class from COCOeval's ``eval['precision']`` (T, R, K, A, M),
    area 'all', 100 detections; over every IoU threshold, or only
    ``iou_index``. -1 when the class has no ground truth (COCOeval's
    convention for an empty cell)."""
    prec = precision[:, :, class_index, 0, -1]
    if iou_index is not None:
        prec = prec[iou_index]
    prec = prec[prec > -1]
    return float(prec.mean()) if prec.size else -1.0


@METRICS.register_module()
class CocoMetric(BaseMetric):
    """COCO box AP (IoU 0.50:0.95), AP50, AP75 and AP by object size, plus
    per-class AP and AP50 with ``classwise``; all in [0, 1].

    Args:
        ann_file: COCO JSON of the evaluated split (its category names must
            include the dataset's classes). Default: ground truth built from
            the samples' ``gt_instances`` and ``ignored_instances``.
        classwise: also report ``AP_<class>`` and ``AP50_<class>``.
    """

    default_prefix = 'coco'

    def __init__(self, ann_file: Optional[str] = None, classwise: bool = True,
                 **kwargs):
        super().__init__(**kwargs)
        self.ann_file = ann_file
        self.classwise = classwise

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        self.results.extend(detection_arrays(s) for s in data_samples)

    def _ground_truth(self, results: Sequence[dict]):
        """(COCO index, category id of each label)."""
        classes = self.dataset_meta['classes']
        ann_file = self.ann_file
        if ann_file is None:
            return coco_from_instances(results, classes), list(
                range(1, len(classes) + 1))
        with contextlib.redirect_stdout(io.StringIO()):
            gt = COCO(check_file(ann_file, 'COCO annotation file'))
        name_to_id = {cat['name']: cat['id'] for cat in gt.dataset['categories']}
        missing = [name for name in classes if name not in name_to_id]
        if missing:
            raise ValueError(f'{ann_file}: no category named {missing[0]!r}; '
                             f'the file has {sorted(name_to_id)}')
        unknown = sorted({r['img_id'] for r in results} - set(gt.getImgIds()))
        if unknown:
            raise ValueError(f'{ann_file}: no image with id {unknown[0]} '
                             '(the img_id of an evaluated sample)')
        return gt, [name_to_id[name] for name in classes]

    def compute_metrics(self, results: list) -> Dict[str, float]:
        gt, cat_ids = self._ground_truth(results)
        coco_eval = COCOeval(gt, coco_detections(gt, results, cat_ids), 'bbox')
        coco_eval.params.imgIds = sorted({r['img_id'] for r in results})
        coco_eval.params.catIds = cat_ids
        summary = io.StringIO()
        with contextlib.redirect_stdout(summary):
            coco_eval.evaluate()
            coco_eval.accumulate()
            coco_eval.summarize()
        print_log('\n' + summary.getvalue(), logger='current')
        metrics = {name: float(coco_eval.stats[i])
                   for name, i in COCO_STATS.items()}
        if self.classwise:
            precision = coco_eval.eval['precision']
            iou50 = int(np.argmin(np.abs(coco_eval.params.iouThrs - 0.5)))
            # COCOeval orders the precision's class axis by category id.
            eval_cat_ids = list(coco_eval.params.catIds)
            for name, cat_id in zip(self.dataset_meta['classes'], cat_ids):
                k = eval_cat_ids.index(cat_id)
                key = name.replace('/', '_')
                metrics[f'AP_{key}'] = per_class_ap(precision, k)
                metrics[f'AP50_{key}'] = per_class_ap(precision, k, iou50)
        return metrics
