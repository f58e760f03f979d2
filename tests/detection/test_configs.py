"""The Faster R-CNN configs train, validate and test through the tools."""
import json
import os
import subprocess
import sys

import pytest
from mmengine.config import Config

from wsvision.datasets.fashion_scenes import FASHION_CLASSES

from tests.conftest import REPO, fashion_mnist_available

CONFIG_DIR = os.path.join(REPO, 'configs', 'faster_rcnn')
BASELINE = os.path.join(CONFIG_DIR, 'faster-rcnn_r18_fpn_fashionscenes.py')
FOGGY_ORACLE = os.path.join(CONFIG_DIR,
                            'faster-rcnn_r18_fpn_fashionscenes-foggy-oracle.py')


def small_det_options(data_root: str, max_iters: int = 2) -> list:
    """``--cfg-options`` that shrink the baseline for tests."""
    options = [
        f'train_cfg.max_iters={max_iters}',
        f'train_cfg.val_interval={max_iters}',
        'train_dataloader.batch_size=2',
        'model.backbone.base_channels=8',
        'model.neck.in_channels=[8,16,32,64]',
        f'default_hooks.checkpoint.interval={max_iters}',
        'default_hooks.logger.interval=1',
        f'val_evaluator.0.ann_file={data_root}/val/instances.json',
        f'test_evaluator.0.ann_file={data_root}/test/instances.json',
    ]
    for loader in ('train', 'val', 'test'):
        options.append(f'{loader}_dataloader.dataset.data_root={data_root}')
    return options


def test_baseline_trains_and_tests_with_overlays(tiny_scenes, tmp_path, cli_env):
    options = small_det_options(tiny_scenes)
    train = subprocess.run(
        [sys.executable, os.path.join(REPO, 'tools', 'train.py'), BASELINE,
         '--work-dir', str(tmp_path), '--cfg-options', *options],
        env=cli_env, capture_output=True, text=True)
    assert train.returncode == 0, train.stderr[-2000:]
    out_json, show_dir = tmp_path / 'metrics.json', tmp_path / 'overlays'
    test = subprocess.run(
        [sys.executable, os.path.join(REPO, 'tools', 'test.py'), BASELINE,
         str(tmp_path / 'iter_2.pth'), '--work-dir', str(tmp_path),
         '--out', str(out_json), '--show-dir', str(show_dir),
         '--cfg-options', *options],
        env=cli_env, capture_output=True, text=True)
    assert test.returncode == 0, test.stderr[-2000:]
    metrics = json.loads(out_json.read_text())
    for key in ('coco/AP', 'coco/AP50', 'voc/mAP'):
        assert 0.0 <= metrics[key] <= 1.0, key
    # Per-class AP is -1 for a class without ground truth in the test split.
    per_class = [metrics[f'coco/AP50_{name.replace("/", "_")}']
                 for name in FASHION_CLASSES]
    assert all(v == -1 or 0 <= v <= 1 for v in per_class)
    assert any(v >= 0 for v in per_class)
    num_test = len(json.load(open(f'{tiny_scenes}/test/instances.json'))['images'])
    assert len(os.listdir(show_dir)) == num_test


def test_configs_build_the_detector_and_point_at_the_right_data():
    from wsvision.registry import MODELS
    baseline = Config.fromfile(BASELINE)
    model = MODELS.build(baseline.model)
    assert model.roi_head.num_classes == 10
    assert baseline.visualization_hook.type == 'DetVisualizationHook'
    assert baseline.val_evaluator[0].ann_file == \
        'data/fashion_scenes/val/instances.json'
    oracle = Config.fromfile(FOGGY_ORACLE)
    train = oracle.train_dataloader.dataset
    assert train.data_root == 'data/fashion_scenes/foggy'
    assert train.ann_file == 'train/instances_hidden.json'
    for split in ('val', 'test'):
        assert getattr(oracle, f'{split}_dataloader').dataset.data_root == \
            'data/fashion_scenes/foggy'
        assert getattr(oracle, f'{split}_evaluator')[0].ann_file == \
            f'data/fashion_scenes/foggy/{split}/instances.json'
    assert oracle.model == baseline.model
    assert oracle.train_cfg == baseline.train_cfg


@pytest.mark.skipif(not fashion_mnist_available(),
                    reason='Fashion-MNIST is not installed')
def test_foggy_oracle_trains_on_the_hidden_labels(tmp_path):
    from wsvision.datasets.fashion_scenes.variants import build_variant
    from mmengine.registry import DefaultScope

    from wsvision.registry import DATASETS
    build_variant(str(tmp_path), 'foggy', preset='tiny', foggy_num_train=4,
                  foggy_num_val=2, foggy_num_test=2)
    oracle = Config.fromfile(FOGGY_ORACLE)
    for loader in ('train', 'val', 'test'):
        cfg = getattr(oracle, f'{loader}_dataloader').dataset
        cfg.data_root = str(tmp_path / 'foggy')
        with DefaultScope.overwrite_default_scope('wsvision'):
            dataset = DATASETS.build(cfg)
        assert len(dataset) == (4 if loader == 'train' else 2)
        sample = dataset[0]['data_samples']
        assert len(sample.gt_instances) > 0
        assert sample.img_path.startswith(str(tmp_path / 'foggy' / loader))
