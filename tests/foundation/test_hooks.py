"""The non-finite loss guard stops before the bad iteration is checkpointed."""
import math
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.runner import Runner

from tests.conftest import small_seg_config
from wsvision.engine.hooks import NonFiniteLossHook
from wsvision.registry import MODELS


class FakeRunner:
    iter = 41


def test_hook_names_iteration_and_term():
    hook = NonFiniteLossHook()
    hook.after_train_iter(FakeRunner(), 0, outputs=dict(loss=torch.tensor(1.0)))
    with pytest.raises(FloatingPointError) as error:
        hook.after_train_iter(FakeRunner(), 0, outputs=dict(
            loss=torch.tensor(math.nan), loss_ce=torch.tensor(0.3),
            loss_agmm=torch.tensor(math.inf)))
    message = str(error.value)
    assert 'iteration 42' in message and 'loss_agmm=inf' in message
    assert 'loss_ce' not in message


@MODELS.register_module()
class NaNFromIterationLoss(nn.Module):
    """Cross-entropy-like loss that turns NaN from a given call on."""

    def __init__(self, start: int):
        super().__init__()
        self.start, self.calls = start, 0

    def forward(self, seg_logits, data_samples, **kwargs):
        self.calls += 1
        value = seg_logits.float().logsumexp(1).mean()
        if self.calls >= self.start:
            value = value * math.nan
        return dict(loss_unstable=value)


def test_training_stops_and_last_checkpoint_survives(tiny_scenes, tmp_path):
    cfg = small_seg_config(tiny_scenes, tmp_path, max_iters=8,
                           checkpoint_interval=2)
    cfg.model.losses = [dict(type='NaNFromIterationLoss', start=4)]
    runner = Runner.from_cfg(cfg)
    with pytest.raises(FloatingPointError, match='iteration 4: loss=nan'):
        runner.train()
    assert osp.exists(tmp_path / 'iter_2.pth')
    assert not osp.exists(tmp_path / 'iter_4.pth')
    state = torch.load(tmp_path / 'iter_2.pth', weights_only=True)['state_dict']
    assert all(torch.isfinite(t).all() for t in state.values())
