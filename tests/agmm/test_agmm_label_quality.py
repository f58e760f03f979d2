"""AGMM++ pseudo-labels: the rule on a hand example, their scores on a hand
example, and the analysis CLI on a briefly trained checkpoint."""
import json

import pytest
import torch

from tests.agmm.test_agmm_train import config_path, small_options, train
from tests.conftest import load_tool
from wsvision.models.losses.agmm import PseudoLabelCandidates, pseudo_labels
from wsvision.structures import IGNORE_INDEX, UNLABELLED
from wsvision.utils.config import ConfigError

TOOL = load_tool('analysis', 'agmm_label_quality.py')
U = UNLABELLED


def hand_candidates():
    """One 1x5 image: the posterior's class and confidence per pixel, the
    fill prior's class at pixel 3, pixel 0 labelled."""
    return PseudoLabelCandidates(
        confidence=torch.tensor([[[0.99, 0.95, 0.6, 0.3, 0.85]]]),
        classes=torch.tensor([[[1, 2, 2, 0, 1]]]),
        filled=torch.tensor([[[U, U, U, 3, U]]]),
        unlabelled=torch.tensor([[[False, True, True, True, True]]]))


def test_pseudo_labels_follow_fill_then_confidence():
    c = hand_candidates()
    # Pixel 0 is labelled; pixel 3 takes the fill prior's class however
    # unsure the posterior is; the rest take the posterior's class when its
    # confidence reaches the threshold.
    assert pseudo_labels(c, 0.9).tolist() == [[[U, 2, U, 3, U]]]
    assert pseudo_labels(c, 0.8).tolist() == [[[U, 2, U, 3, 1]]]
    assert pseudo_labels(c, 0.5).tolist() == [[[U, 2, 2, 3, 1]]]


def test_tally_on_a_hand_example():
    c = hand_candidates()
    weak = torch.tensor([[[1, U, U, U, U]]])
    dense = torch.tensor([[[1, 2, 0, 3, IGNORE_INDEX]]])  # pixel 4 not scored
    network = torch.tensor([[[1, 0, 0, 3, 1]]])
    tally = TOOL.Tally([0.9, 0.5], num_classes=4, background_id=0)
    tally.add(c, weak, dense, network)
    scores = tally.scores()
    # Scored unlabelled pixels 1, 2, 3; foreground (not class 0) 1 and 3.
    assert (scores['unlabelled_pixels'], scores['foreground_pixels']) == (3, 2)
    # 0.9: pixels 1 (2, right) and 3 (3, right).
    assert scores['threshold 0.9'] == dict(coverage=pytest.approx(2 / 3), precision=1.0,
                                           foreground_coverage=1.0, foreground_precision=1.0)
    # 0.5: pixel 2 joins with class 2, but it is background.
    assert scores['threshold 0.5'] == dict(coverage=1.0, precision=pytest.approx(2 / 3),
                                           foreground_coverage=1.0, foreground_precision=1.0)
    # Mixture labelling [1, 2, 2, 0] against [1, 2, 0, 3]: IoU of classes
    # 0..3 = 0/2, 1/1, 1/2, 0/1; the network's [1, 0, 0, 3]: 1/2, 1/1, 0/1, 1/1.
    assert scores['mixture_mIoU'] == pytest.approx((0 + 1 + 0.5 + 0) / 4)
    assert scores['network_mIoU'] == pytest.approx((0.5 + 1 + 0 + 1) / 4)


def test_cli_on_a_trained_checkpoint(weak_scenes, tmp_path):
    config = config_path('agmm', 'scribbles')
    options = small_options(weak_scenes, 'agmm', max_iters=3)
    train(config, options, tmp_path)
    checkpoint = str(tmp_path / 'iter_3.pth')
    out = tmp_path / 'quality.json'
    argv = [config, checkpoint, '--num-images', '5', '--thresholds', '0.3', '0.6', '0.9',
            '--out', str(out), '--cfg-options', *options]
    scores = TOOL.main(argv)
    assert json.loads(out.read_text())['scores'] == scores
    assert scores['unlabelled_pixels'] > scores['foreground_pixels'] > 0
    coverage = [scores[f'threshold {t}']['coverage'] for t in ('0.3', '0.6', '0.9')]
    assert coverage == sorted(coverage, reverse=True) and coverage[0] > 0
    assert 0 <= scores['mixture_mIoU'] <= 1 and 0 <= scores['network_mIoU'] <= 1
    # A partial-CE config has no mixture to score.
    with pytest.raises(ConfigError, match='no AGMMLoss'):
        TOOL.main([config_path('partial-ce', 'scribbles'), checkpoint, '--cfg-options',
                   *small_options(weak_scenes, 'partial-ce')])
