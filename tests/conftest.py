"""Shared fixtures: a `tiny` FashionScenes build and a small, fast segmentor config."""
import importlib.util
import os
import os.path as osp

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SEG_CONFIG = osp.join(REPO, 'configs', 'deeplabv3plus',
                      'deeplabv3plus_r18_fashionscenes-full.py')


def load_tool(*path):
    """A script under ``tools/`` (not a package) as a module, e.g.
    ``load_tool('benchmarks', 'wsss_table.py')``."""
    spec = importlib.util.spec_from_file_location(path[-1][:-3], osp.join(REPO, 'tools', *path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fashion_mnist_available() -> bool:
    from wsvision.datasets.fashion_scenes.source import default_source
    return all(osp.exists(osp.join(default_source(), name)) for name in (
        'train-images-idx3-ubyte.gz', 't10k-images-idx3-ubyte.gz'))


def require_fashion_mnist() -> None:
    """Skip the calling test or fixture where Fashion-MNIST is missing."""
    if not fashion_mnist_available():
        pytest.skip('Fashion-MNIST is not installed (apt-get install '
                    'dataset-fashion-mnist)')


@pytest.fixture(scope='session')
def tiny_scenes(tmp_path_factory):
    """Path of a `tiny`-preset FashionScenes build (built once per session)."""
    require_fashion_mnist()
    from wsvision.datasets.fashion_scenes import build_fashion_scenes
    root = str(tmp_path_factory.mktemp('fashion_scenes_tiny'))
    build_fashion_scenes(root, preset='tiny', seed=0)
    return root


def small_seg_options(data_root: str, max_iters: int = 6,
                      checkpoint_interval: int = 3) -> list:
    """``--cfg-options`` that shrink the segmentation baseline for tests."""
    options = [
        f'train_cfg.max_iters={max_iters}',
        f'train_cfg.val_interval={max_iters}',
        'train_dataloader.batch_size=4',
        'model.backbone.base_channels=8',
        'model.decode_head.in_channels=64',
        'model.decode_head.low_level_channels=16',
        'model.decode_head.channels=16',
        'train_dataloader.dataset.pipeline.3.crop_size=(48,48)',
        f'default_hooks.checkpoint.interval={checkpoint_interval}',
        'default_hooks.checkpoint.max_keep_ckpts=10',
        'default_hooks.logger.interval=1',
    ]
    for loader in ('train', 'val', 'test'):
        options.append(f'{loader}_dataloader.dataset.data_root={data_root}')
    return options


def small_seg_config(data_root: str, work_dir: str, **kwargs):
    """The baseline config with ``small_seg_options`` applied, as a Config."""
    import argparse

    from mmengine.config import Config, DictAction
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    options = parser.parse_args(
        ['--cfg-options', *small_seg_options(data_root, **kwargs)]).cfg_options
    cfg = Config.fromfile(SEG_CONFIG)
    cfg.merge_from_dict(options)
    cfg.work_dir = str(work_dir)
    return cfg


@pytest.fixture
def cli_env():
    """Environment for running the tools in a subprocess, one thread each."""
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',
               PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''))
    return env
