"""CocoMetric against pycocotools run directly, VOCMetric against hand counts."""
import contextlib
import io
import json
import math

import numpy as np
import pytest
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from wsvision.evaluation import CocoMetric, VOCMetric
from wsvision.evaluation.metrics.voc_metric import average_precision
from wsvision.structures import DetDataSample, InstanceData

CLASSES = ('cat', 'dog/puppy', 'bird')
# Category ids deliberately not 1..K and not in class order.
CAT_IDS = {'cat': 7, 'dog/puppy': 3, 'bird': 12}

# Ground truth of three 100x80 images, xyxy.
GT_BOXES = {
    1: ([[10, 10, 40, 50], [50, 20, 90, 70]], [0, 1]),
    2: ([[5, 5, 30, 30], [40, 40, 80, 75], [60, 5, 95, 35]], [2, 0, 1]),
    3: ([[20, 20, 60, 60]], [1]),
}
# A mix of hits, loose boxes, duplicates, wrong classes and misses.
PREDICTIONS = {
    1: ([[11, 10, 40, 52], [48, 22, 88, 70], [10, 10, 40, 50], [0, 0, 20, 20]],
        [0.9, 0.8, 0.3, 0.6], [0, 1, 0, 2]),
    2: ([[6, 4, 31, 28], [42, 45, 80, 75], [60, 5, 80, 35]],
        [0.7, 0.95, 0.5], [2, 1, 1]),
    3: ([[25, 25, 65, 60]], [0.85], [1]),
}


def coco_gt_dict():
    images = [dict(id=i, height=80, width=100, file_name=f'{i}.png')
              for i in GT_BOXES]
    annotations = []
    for img_id, (boxes, labels) in GT_BOXES.items():
        for (x1, y1, x2, y2), label in zip(boxes, labels):
            annotations.append(dict(
                id=len(annotations) + 1, image_id=img_id,
                category_id=CAT_IDS[CLASSES[label]],
                bbox=[x1, y1, x2 - x1, y2 - y1], area=(x2 - x1) * (y2 - y1),
                iscrowd=0))
    categories = [dict(id=CAT_IDS[name], name=name) for name in CLASSES]
    return dict(images=images, annotations=annotations, categories=categories)


def evaluated_sample(img_id, preds, scale=1.0):
    """A sample as the evaluator passes it (``to_dict``); the ground truth is
    in input pixels of an image downscaled by ``scale``."""
    boxes, labels = GT_BOXES[img_id]
    sample = DetDataSample(metainfo=dict(
        img_id=img_id, ori_shape=(80, 100), img_shape=(80 * scale, 100 * scale),
        scale_factor=(scale, scale)))
    sample.gt_instances = InstanceData(
        bboxes=torch.tensor(boxes, dtype=torch.float32) * scale,
        labels=torch.tensor(labels))
    pred_boxes, scores, pred_labels = preds
    sample.pred_instances = InstanceData(
        bboxes=torch.tensor(pred_boxes, dtype=torch.float32).reshape(-1, 4),
        scores=torch.tensor(scores, dtype=torch.float32),
        labels=torch.tensor(pred_labels, dtype=torch.int64))
    return sample.to_dict()


def run_metric(metric, predictions, scale=1.0):
    metric.dataset_meta = dict(classes=CLASSES)
    metric.process({}, [evaluated_sample(i, predictions[i], scale)
                        for i in GT_BOXES])
    return metric.compute_metrics(metric.results)


def pycocotools_reference(gt_dict, predictions, cat_ids=None):
    """stats of COCOeval run the documented way (loadRes)."""
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = json.loads(json.dumps(gt_dict))
        gt.createIndex()
        results = [dict(image_id=img_id,
                        category_id=CAT_IDS[CLASSES[label]],
                        bbox=[x1, y1, x2 - x1, y2 - y1], score=score)
                   for img_id, (boxes, scores, labels) in predictions.items()
                   for (x1, y1, x2, y2), score, label in zip(boxes, scores,
                                                             labels)]
        coco_eval = COCOeval(gt, gt.loadRes(results), 'bbox')
        if cat_ids is not None:
            coco_eval.params.catIds = cat_ids
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    return coco_eval.stats


@pytest.fixture
def ann_file(tmp_path):
    path = tmp_path / 'instances.json'
    path.write_text(json.dumps(coco_gt_dict()))
    return str(path)


def perfect_predictions():
    return {i: (boxes, [0.9] * len(boxes), labels)
            for i, (boxes, labels) in GT_BOXES.items()}


@pytest.mark.parametrize('with_ann_file', [True, False])
def test_coco_metric_perfect_predictions_score_one(ann_file, with_ann_file):
    metric = CocoMetric(ann_file=ann_file if with_ann_file else None)
    metrics = run_metric(metric, perfect_predictions())
    assert metrics['AP'] == pytest.approx(1.0)
    assert metrics['AP50'] == pytest.approx(1.0)
    assert metrics['AP50_dog_puppy'] == pytest.approx(1.0)


def test_coco_metric_matches_pycocotools_on_a_mix(ann_file):
    reference = pycocotools_reference(coco_gt_dict(), PREDICTIONS)
    assert 0.1 < reference[0] < 0.9  # the mix is neither perfect nor empty
    from_file = run_metric(CocoMetric(ann_file=ann_file), PREDICTIONS)
    # Ground truth rebuilt from samples whose images were downscaled by 2.
    from_samples = run_metric(CocoMetric(), PREDICTIONS, scale=0.5)
    for metrics in (from_file, from_samples):
        assert metrics['AP'] == pytest.approx(reference[0])
        assert metrics['AP50'] == pytest.approx(reference[1])
        assert metrics['AP75'] == pytest.approx(reference[2])
    for name in CLASSES:
        per_class = pycocotools_reference(coco_gt_dict(), PREDICTIONS,
                                          cat_ids=[CAT_IDS[name]])
        key = name.replace('/', '_')
        assert from_file[f'AP_{key}'] == pytest.approx(per_class[0])
        assert from_file[f'AP50_{key}'] == pytest.approx(per_class[1])
        assert from_samples[f'AP50_{key}'] == pytest.approx(per_class[1])


def test_coco_metric_without_detections_scores_zero():
    empty = {i: ([], [], []) for i in GT_BOXES}
    metrics = run_metric(CocoMetric(), empty)
    assert metrics['AP'] == 0 and metrics['AP50'] == 0


def test_coco_metric_names_missing_class_and_image(ann_file, tmp_path):
    metric = CocoMetric(ann_file=ann_file)
    metric.dataset_meta = dict(classes=('cat', 'horse'))
    metric.process({}, [evaluated_sample(1, PREDICTIONS[1])])
    with pytest.raises(ValueError, match="no category named 'horse'"):
        metric.compute_metrics(metric.results)
    metric = CocoMetric(ann_file=ann_file)
    metric.dataset_meta = dict(classes=CLASSES)
    sample = evaluated_sample(1, PREDICTIONS[1])
    sample['img_id'] = 99
    metric.process({}, [sample])
    with pytest.raises(ValueError, match='no image with id 99'):
        metric.compute_metrics(metric.results)


def test_voc_average_precision_by_hand():
    # Ranked detections: TP, FP, TP, FP over 3 ground-truth boxes.
    recall = np.array([1, 1, 2, 2]) / 3
    precision = np.array([1, 1 / 2, 2 / 3, 2 / 4])
    # All points: recall 0 -> 1/3 at precision 1, 1/3 -> 2/3 at 2/3.
    assert average_precision(recall, precision, 'area') == pytest.approx(
        1 / 3 + 2 / 9)
    # 11 points: t = 0..0.3 -> 1, t = 0.4..0.6 -> 2/3, t >= 0.7 -> 0.
    assert average_precision(recall, precision, '11points') == pytest.approx(
        (4 + 3 * 2 / 3) / 11)


def voc_sample(gt_boxes, gt_labels, preds, ignored=()):
    sample = DetDataSample(metainfo=dict(img_id=0, ori_shape=(100, 100),
                                         scale_factor=(1.0, 1.0)))
    sample.gt_instances = InstanceData(
        bboxes=torch.tensor(gt_boxes, dtype=torch.float32).reshape(-1, 4),
        labels=torch.tensor(gt_labels, dtype=torch.int64))
    sample.ignored_instances = InstanceData(
        bboxes=torch.tensor([b for b, _ in ignored],
                            dtype=torch.float32).reshape(-1, 4),
        labels=torch.tensor([lb for _, lb in ignored], dtype=torch.int64))
    boxes, scores, labels = preds
    sample.pred_instances = InstanceData(
        bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        scores=torch.tensor(scores), labels=torch.tensor(labels))
    return sample.to_dict()


def test_voc_metric_counts_duplicates_misses_and_ignored_boxes():
    box_a, box_b, box_c = [0, 0, 20, 20], [50, 50, 70, 70], [0, 60, 30, 90]
    samples = [
        # Class 0: a hit (0.9), a duplicate of it (0.8, false positive), a
        # detection on an ignored box (0.75, neither), a box with IoU 1/3
        # (0.7, false positive); box_b is missed. Class 1: box_c found.
        voc_sample([box_a, box_b, box_c], [0, 0, 1],
                   ([box_a, [1, 0, 21, 20], [80, 80, 99, 99], [10, 0, 30, 20],
                     box_c],
                    [0.9, 0.8, 0.75, 0.7, 0.6], [0, 0, 0, 0, 1]),
                   ignored=[([80, 80, 99, 99], 0)]),
    ]
    metric = VOCMetric()
    metric.dataset_meta = dict(classes=('a', 'b/c', 'unused'))
    metric.process({}, samples)
    metrics = metric.compute_metrics(metric.results)
    # Class 0 ranking: TP, FP, (ignored), FP over 2 boxes -> AP = 1/2.
    assert metrics['AP50_a'] == pytest.approx(0.5)
    assert metrics['AP50_b_c'] == pytest.approx(1.0)
    assert 'AP50_unused' not in metrics  # no ground truth: left out of mAP
    assert metrics['mAP'] == pytest.approx(0.75)


def test_voc_metric_eleven_points_and_threshold():
    box = [0, 0, 20, 20]
    shifted = [4, 0, 24, 20]  # IoU 16 * 20 / (2 * 400 - 320) = 2/3
    metric = VOCMetric(iou_thr=0.7, mode='11points')
    metric.dataset_meta = dict(classes=('a',))
    metric.process({}, [voc_sample([box], [0], ([shifted], [0.9], [0]))])
    assert metric.compute_metrics(metric.results)['AP70_a'] == 0
    metric = VOCMetric(iou_thr=0.5, mode='11points')
    metric.dataset_meta = dict(classes=('a',))
    metric.process({}, [voc_sample([box], [0], ([shifted], [0.9], [0]))])
    assert metric.compute_metrics(metric.results)['AP50_a'] == pytest.approx(1)
    with pytest.raises(ValueError, match='mode'):
        VOCMetric(mode='auc')
    assert math.isclose(average_precision(np.array([0.5]), np.array([1.0]),
                                          '11points'), 6 / 11)
