"""Tiny models, training-style checkpoints and model indexes for the
inference and model-zoo tests."""
import os.path as osp

import torch
import yaml
from mmengine.config import Config
from mmengine.logging.history_buffer import HistoryBuffer

from wsvision.datasets.fashion_scenes import SEG_CLASSES

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_IMAGE = osp.join(REPO, 'demo', 'demo.png')
SEG_BASE = osp.join(REPO, 'configs', 'deeplabv3plus',
                    'deeplabv3plus_r18_fashionscenes-full.py')
DET_BASE = osp.join(REPO, 'configs', 'faster_rcnn',
                    'faster-rcnn_r18_fpn_fashionscenes.py')


def write_config(folder, name: str, base: str, overrides: str) -> str:
    """``<folder>/<name>.py``: ``base`` with the ``overrides`` text."""
    path = osp.join(str(folder), f'{name}.py')
    with open(path, 'w') as f:
        f.write(f'_base_ = {base!r}\n{overrides}')
    return path


def write_tiny_seg_config(folder, num_classes: int = len(SEG_CLASSES),
                          name: str = 'tiny_seg') -> str:
    """The segmentation baseline at ResNet base width 8."""
    return write_config(folder, name, SEG_BASE, f"""model = dict(
    backbone=dict(base_channels=8),
    decode_head=dict(in_channels=64, low_level_channels=16, channels=16,
                     num_classes={num_classes}))
""")


def write_tiny_det_config(folder, name: str = 'tiny_det') -> str:
    """The Faster R-CNN baseline at ResNet base width 8, keeping every
    detection (score_thr 0) so that random weights predict boxes."""
    return write_config(folder, name, DET_BASE, """model = dict(
    backbone=dict(base_channels=8),
    neck=dict(in_channels=[8, 16, 32, 64], out_channels=16),
    rpn=dict(in_channels=16),
    roi_head=dict(in_channels=16, fc_channels=32, score_thr=0.0))
""")


def save_training_checkpoint(model: torch.nn.Module, config: str, path: str,
                             classes=SEG_CLASSES, name='tiny_seg') -> str:
    """What MMEngine's CheckpointHook writes: meta, weights, optimizer,
    message hub (``HistoryBuffer`` s) and scheduler state."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for param in model.parameters():
        param.grad = torch.zeros_like(param)
    optimizer.step()
    torch.save(dict(
        meta=dict(cfg=Config.fromfile(config).pretty_text,
                  dataset_meta=dict(classes=tuple(classes)), seed=0,
                  experiment_name=f'{name}_20260101_120000', iter=6),
        state_dict=model.state_dict(),
        optimizer=optimizer.state_dict(),
        message_hub=dict(
            log_scalars={'train/loss': HistoryBuffer([1.0, 0.5], [1, 1])},
            runtime_info=dict(iter=6)),
        param_schedulers=[dict(last_epoch=6)]), path)
    return path


def write_model_index(folder, models) -> str:
    """``model-index.yml`` importing one metafile with ``models``."""
    folder = str(folder)
    with open(osp.join(folder, 'metafile.yml'), 'w') as f:
        yaml.safe_dump(dict(Models=models), f)
    index = osp.join(folder, 'model-index.yml')
    with open(index, 'w') as f:
        yaml.safe_dump(dict(Import=['metafile.yml']), f)
    return index
