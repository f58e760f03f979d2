"""Grounding F1 over 26-connected components, against hand counts."""
import numpy as np
import pytest
import torch

from wsvision.datasets.petct.data_sample import GroundingDataSample
from wsvision.evaluation.grounding_metric import (GroundingF1Metric,
                                                  component_counts, f1_score)


def cube(shape, corner, size):
    mask = np.zeros(shape, bool)
    x, y, z = corner
    mask[x:x + size, y:y + size, z:z + size] = True
    return mask


SHAPE = (20, 20, 20)


def test_f1_formula():
    assert f1_score(3, 1, 1) == pytest.approx(3 / 4)
    assert f1_score(1, 2, 0) == pytest.approx(0.5)
    assert np.isnan(f1_score(0, 0, 0))


def test_hit_plus_a_false_positive():
    gt = cube(SHAPE, (2, 2, 2), 3)
    pred = cube(SHAPE, (3, 3, 3), 3) | cube(SHAPE, (12, 12, 12), 3)
    assert component_counts(pred, gt) == dict(tp=1, fp=1, fn=0)


def test_miss_gives_a_false_negative_and_a_false_positive():
    gt = cube(SHAPE, (2, 2, 2), 3)
    assert component_counts(cube(SHAPE, (12, 12, 12), 3), gt) == \
        dict(tp=0, fp=1, fn=1)
    assert component_counts(np.zeros(SHAPE, bool), gt) == \
        dict(tp=0, fp=0, fn=1)


def test_components_of_eight_voxels_or_fewer_are_ignored():
    gt = cube(SHAPE, (2, 2, 2), 3)
    pred = cube(SHAPE, (2, 2, 2), 3) | cube(SHAPE, (12, 12, 12), 2)  # 8 vox
    assert component_counts(pred, gt) == dict(tp=1, fp=0, fn=0)
    # The referenced lesion hit only by a tiny component counts as missed.
    assert component_counts(cube(SHAPE, (2, 2, 2), 2), gt) == \
        dict(tp=0, fp=0, fn=1)


def test_diagonal_voxels_are_one_component():
    # Two 2x2x3 blocks touching only at a corner are one 26-connected
    # component (they would be two with 6-connectivity).
    gt = np.zeros(SHAPE, bool)
    pred = np.zeros(SHAPE, bool)
    pred[5:7, 5:7, 5:8] = True
    pred[7:9, 7:9, 8:11] = True
    gt[5, 5, 5] = True
    assert component_counts(pred, gt) == dict(tp=1, fp=0, fn=0)


def test_fragments_of_the_referenced_lesion_count_once():
    gt = cube(SHAPE, (2, 2, 2), 10)
    pred = cube(SHAPE, (2, 2, 2), 3) | cube(SHAPE, (8, 8, 8), 3)
    assert component_counts(pred, gt) == dict(tp=1, fp=0, fn=0)


def sample(pred, gt, tracer):
    data_sample = GroundingDataSample(metainfo=dict(tracer=tracer))
    data_sample.pred_mask = torch.from_numpy(pred[None].astype(np.uint8))
    data_sample.gt_mask = torch.from_numpy(gt[None].astype(np.uint8))
    return data_sample


def test_metric_per_tracer_and_overall():
    gt = cube(SHAPE, (2, 2, 2), 3)
    hit = cube(SHAPE, (2, 2, 2), 3)
    other = cube(SHAPE, (12, 12, 12), 3)
    metric = GroundingF1Metric(tracers=['FDG', 'DCFPyL', 'DOTATATE'])
    metric.process({}, [sample(hit, gt, 'FDG'),
                        sample(hit | other, gt, 'FDG')])
    # The evaluator hands the metric plain dicts; both forms are accepted.
    metric.process({}, [sample(other, gt, 'DCFPyL').to_dict()])
    results = metric.compute_metrics(metric.results)
    # FDG: TP 2, FP 1, FN 0 -> 2 / 2.5; DCFPyL: TP 0, FP 1, FN 1 -> 0.
    assert results['f1_FDG'] == pytest.approx(0.8)
    assert results['f1_DCFPyL'] == 0.0
    assert np.isnan(results['f1_DOTATATE'])
    # Overall: TP 2, FP 2, FN 1 -> 2 / 3.5.
    assert results['f1'] == pytest.approx(2 / 3.5)
    assert (results['tp'], results['fp'], results['fn']) == (2, 2, 1)


def test_metric_refuses_mismatched_masks():
    metric = GroundingF1Metric()
    bad = sample(np.zeros((4, 4, 4), bool), np.zeros((4, 4, 5), bool), 'FDG')
    with pytest.raises(ValueError, match='differ in shape'):
        metric.process({}, [bad])
