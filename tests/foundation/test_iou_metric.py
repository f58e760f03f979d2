"""``IoUMetric``: mIoU, and the split of the errors into object extent
(``fgIoU``) and object class (``fgAcc``)."""
import pytest
import torch

from wsvision.evaluation import IoUMetric
from wsvision.structures import IGNORE_INDEX


def sample(pred, label):
    return dict(pred_sem_seg=dict(data=torch.tensor([pred])),
                gt_sem_seg=dict(data=torch.tensor([label])))


def evaluate(metric, samples):
    metric.dataset_meta = dict(classes=('background', 'a', 'b'))
    metric.process({}, samples)
    return metric.compute_metrics(metric.results)


# Two images; 0 is background. Image 1: an 'a' object of 3 pixels, found
# with 2 pixels right, 1 as 'b' and 1 background pixel called 'a'. Image 2:
# a 'b' object of 2 pixels, 1 missed; one padding pixel, called 'a'.
SAMPLES = [sample([[1, 1, 2, 1]], [[1, 1, 1, 0]]),
           sample([[2, 0, 0, 1]], [[2, 2, 0, IGNORE_INDEX]])]


def test_the_foreground_split_by_hand():
    metrics = evaluate(IoUMetric(background_index=0), SAMPLES)
    # Object pixels: labelled 5, predicted 5 (padding not counted), both 4.
    assert metrics['fgIoU'] == pytest.approx(4 / 6)
    # Of the 4 pixels both call an object, 3 have the right class.
    assert metrics['fgAcc'] == pytest.approx(3 / 4)
    # The class IoUs are those without the split: background 1 / 3,
    # a 2 / 4, b 1 / 3.
    assert metrics['mIoU'] == pytest.approx((1 / 3 + 2 / 4 + 1 / 3) / 3)
    assert metrics == pytest.approx({**evaluate(IoUMetric(), SAMPLES),
                                     'fgIoU': 4 / 6, 'fgAcc': 3 / 4})


def test_without_a_background_class_there_is_no_split():
    assert 'fgIoU' not in evaluate(IoUMetric(), SAMPLES)


def test_a_background_index_outside_the_classes_is_refused():
    with pytest.raises(ValueError, match='background_index 3'):
        evaluate(IoUMetric(background_index=3), SAMPLES)
