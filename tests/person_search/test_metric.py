"""PersonSearchMetric on a hand-made gallery whose answers are worked out by hand."""
import numpy as np
import pytest
import torch

from wsvision.evaluation.metrics.person_search_metric import (
    PersonSearchMetric, search_average_precision)
from wsvision.structures import DetDataSample, InstanceData


def unit(x, y):
    return [x / np.hypot(x, y), y / np.hypot(x, y)]


def scene(img_id, dets, gts):
    """dets: [(box, score, embedding)]; gts: [(box, person_id, embedding)]."""
    sample = DetDataSample(metainfo=dict(img_id=img_id, img_path=f'{img_id}.png',
                                         scale_factor=(1.0, 1.0),
                                         ori_shape=(64, 64)))
    sample.pred_instances = InstanceData(
        bboxes=torch.tensor([d[0] for d in dets], dtype=torch.float32).view(-1, 4),
        scores=torch.tensor([d[1] for d in dets]),
        labels=torch.zeros(len(dets), dtype=torch.long),
        embeddings=torch.tensor([d[2] for d in dets]).view(-1, 2))
    sample.gt_instances = InstanceData(
        bboxes=torch.tensor([g[0] for g in gts], dtype=torch.float32).view(-1, 4),
        person_ids=torch.tensor([g[1] for g in gts]),
        embeddings=torch.tensor([g[2] for g in gts]).view(-1, 2))
    return sample.to_dict()


BOX_A, BOX_B, BOX_C, BOX_D = [0, 0, 10, 10], [20, 20, 30, 30], [5, 5, 15, 15], [30, 30, 40, 40]
SAMPLES = [
    scene('q', [], [(BOX_A, 7, [1.0, 0.0])]),
    scene('A', [(BOX_A, 0.9, [0.8, 0.6]), (BOX_B, 0.9, [0.6, 0.8])],
          [(BOX_A, 7, [1.0, 0.0]), (BOX_B, 3, [0.6, 0.8])]),
    scene('B', [(BOX_D, 0.9, unit(0.95, 0.31225)), (BOX_C, 0.9, [0.0, 1.0]),
                # Below the score threshold: never searched.
                ([40, 40, 50, 50], 0.3, [1.0, 0.0])],
          [(BOX_C, 7, [0.0, 1.0]), (BOX_D, 3, [0.0, 1.0])]),
    scene('C', [(BOX_A, 0.9, [1.0, 0.0])], [([50, 50, 60, 60], 9, [0.0, 1.0])]),
]
QUERIES = [dict(query_id=0, img_id='q', bbox=BOX_A, person_id=7),
           dict(query_id=1, img_id='A', bbox=BOX_B, person_id=3)]


def run_metric(galleries):
    metric = PersonSearchMetric(det_score_thr=0.5)
    metric.dataset_meta = dict(search_queries=QUERIES, search_galleries=galleries)
    metric.process(None, SAMPLES)
    return metric.compute_metrics(metric.results)


def test_metric_on_hand_made_gallery():
    metrics = run_metric({0: ['A', 'B', 'C'], 1: ['B', 'C']})
    # Query 0 ranks C (1.0, wrong), B/D (0.95, wrong), A/A (0.8, right),
    # A/B (0.6, wrong), B/C (0.0, right): AP = (1/3 + 2/5) / 2, top-1 miss.
    # Query 1 ranks B/D (0.82, right) first: AP 1, top-1 hit.
    assert metrics['mAP'] == pytest.approx(((1 / 3 + 2 / 5) / 2 + 1.0) / 2)
    assert metrics['top1'] == pytest.approx(0.5)
    assert metrics['num_queries'] == 2


def test_metric_every_other_image_is_the_gallery_without_galleries():
    # Query 1's gallery gains 'q' (a detection-free scene): nothing changes;
    # query 0's gallery is A, B, C as before.
    metrics = run_metric(None)
    assert metrics['mAP'] == pytest.approx(((1 / 3 + 2 / 5) / 2 + 1.0) / 2)


def test_undetected_targets_lower_ap():
    # Both targets exist, only the first was found at rank 2.
    assert search_average_precision(np.array([False, True, False]), 2) == 0.25
    with pytest.raises(ValueError, match='no AP'):
        search_average_precision(np.array([False]), 0)


def test_query_box_must_be_a_ground_truth_box():
    metric = PersonSearchMetric()
    metric.dataset_meta = dict(search_queries=[dict(
        query_id=0, img_id='q', bbox=[40, 40, 50, 50], person_id=7)],
        search_galleries={0: ['A']})
    metric.process(None, SAMPLES)
    with pytest.raises(ValueError, match='matches no ground-truth box'):
        metric.compute_metrics(metric.results)
