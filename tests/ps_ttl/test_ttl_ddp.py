"""Test-time learning with two gloo ranks (tools/dist_test.sh): the loop runs
and every rank ends with the same teacher, prototypes and queues."""
import json
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from tests.conftest import REPO
from tests.ps_ttl.test_ttl_loop import CONFIG
from wsvision.datasets.fashion_scenes import build_variant
from wsvision.registry import MODELS


@pytest.mark.slow
def test_ttl_loop_under_two_gloo_ranks(tiny_scenes, tmp_path, cli_env):
    build_variant(tiny_scenes, 'fewshot', preset='tiny', seed=0)
    torch.manual_seed(0)
    detector = MODELS.build(Config.fromfile(CONFIG).model.detector)
    with torch.no_grad():  # a confident class 0, so pseudo-labels exist
        detector.roi_head.classifier.fc.bias[0] = 4.0
    checkpoint = str(tmp_path / 'finetuned.pth')
    torch.save(dict(state_dict=detector.state_dict()), checkpoint)
    options = [
        f'test_dataloader.dataset.data_root={tiny_scenes}',
        f'test_evaluator.ann_file={tiny_scenes}/test/instances.json',
        f'test_cfg.stream_dataloader.dataset.data_root={tiny_scenes}',
        f'test_cfg.shot_dataloader.dataset.data_root={tiny_scenes}',
        'test_cfg.stream_dataloader.batch_size=2',
        'test_cfg.shot_dataloader.batch_size=2',
        'model.hard_thr=0.8', 'model.uncertain_thr=0.3']
    env = dict(cli_env, PYTHON=sys.executable, PORT='29531')
    result = subprocess.run(
        ['bash', osp.join(REPO, 'tools', 'dist_test.sh'), CONFIG, checkpoint,
         '2', '--work-dir', str(tmp_path), '--out', str(tmp_path / 'm.json'),
         '--cfg-options', *options],
        env=env, capture_output=True, text=True, timeout=600)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert 'TTL teacher/prototype digest (all 2 ranks)' in log
    metrics = json.loads((tmp_path / 'm.json').read_text())
    assert 'before_ttl/coco/nAP50' in metrics and 'coco/nAP50' in metrics
    # 8 test images over 2 ranks in batches of 2: 2 iterations
    history = json.loads((tmp_path / 'ttl_pl_quality.json').read_text())
    assert len(history['history']) == 2
    assert history['total']['num_pred'] > 0
