"""The example project's loss and config load through custom_imports."""
import math
import os.path as osp

import torch
from mmengine.config import Config

from tests.conftest import REPO
from wsvision.structures import PixelData, SegDataSample

PROJECT = osp.join(REPO, 'projects', 'example_project')


def test_entropy_loss_counts_only_unlabelled_pixels(monkeypatch):
    monkeypatch.syspath_prepend(PROJECT)
    from example_project import EntropyMinimisationLoss
    logits = torch.zeros(1, 2, 1, 3)  # uniform: entropy log 2 everywhere
    logits[0, 0, 0, 0] = 100.0        # confident: entropy ~0
    sample = SegDataSample()
    sample.gt_weak_seg = PixelData(data=torch.tensor([[[254, 1, 255]]]))
    loss = EntropyMinimisationLoss(loss_weight=1.0)(logits, [sample])
    assert torch.isclose(loss['loss_entropy'], torch.tensor(0.0), atol=1e-6)
    sample.gt_weak_seg = PixelData(data=torch.tensor([[[1, 254, 255]]]))
    loss = EntropyMinimisationLoss(loss_weight=1.0)(logits, [sample])
    assert torch.isclose(loss['loss_entropy'], torch.tensor(math.log(2)))


def test_example_config_inherits_the_baseline():
    cfg = Config.fromfile(osp.join(PROJECT, 'configs',
                                   'entropy_deeplabv3plus_r18_fashionscenes-points.py'))
    assert cfg.custom_imports.imports == ['wsvision', 'example_project']
    assert [loss['type'] for loss in cfg.model.losses] == [
        'PartialCrossEntropyLoss', 'EntropyMinimisationLoss']
    assert cfg.train_dataloader.dataset.weak_label == 'points'
    assert cfg.train_cfg.max_iters > 0
