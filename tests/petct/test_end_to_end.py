"""The tiny preset end to end: build, weak labels, train, test, PNGs, and
every config of configs/contextual_net."""
import glob
import os
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG_DIR = osp.join(REPO, 'configs', 'contextual_net')
CPU_WEAK = osp.join(CONFIG_DIR,
                    'contextual-net-3d_dynunet-s_minilm_phantompet-cpu-weak.py')


def tiny_config(data_root: str, work_dir: str) -> Config:
    cfg = Config.fromfile(CPU_WEAK)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = data_root
    cfg.merge_from_dict({
        'model.text_encoder': dict(type='TinyTextEncoder', embed_dim=16),
        'model.filters': (4, 8, 8, 8, 8), 'model.roi_size': (32, 32, 48),
        'train_cfg.max_iters': 2, 'train_cfg.val_interval': 2,
        'val_dataloader.dataset.indices': 1,
        'test_dataloader.dataset.indices': 2,
        'param_scheduler': [dict(type='ConstantLR', factor=1.0,
                                 by_epoch=False)],
        'default_hooks.checkpoint.interval': 2,
    })
    cfg.work_dir = work_dir
    cfg.custom_hooks = list(cfg.custom_hooks) + [dict(
        cfg.visualization_hook, out_dir=osp.join(work_dir, 'show'))]
    return cfg


def test_tiny_preset_trains_tests_and_draws(tiny_phantom, tmp_path):
    runner = Runner.from_cfg(tiny_config(tiny_phantom, str(tmp_path)))
    runner.train()
    metrics = runner.test()
    assert {'grounding/f1', 'grounding/f1_FDG', 'grounding/tp',
            'grounding/fp', 'grounding/fn'} <= set(metrics)
    # Every test sample has one referenced lesion: TP + FN = 2 samples.
    assert metrics['grounding/tp'] + metrics['grounding/fn'] == 2
    pngs = glob.glob(osp.join(str(tmp_path), 'show', '*.png'))
    assert len(pngs) == 2
    assert osp.isfile(osp.join(str(tmp_path), 'iter_2.pth'))


@pytest.mark.parametrize('path', sorted(glob.glob(osp.join(CONFIG_DIR,
                                                           '*.py'))),
                         ids=osp.basename)
def test_configs_parse(path):
    cfg = Config.fromfile(path)
    assert cfg.model.type == 'ConTEXTualNet3D'
    assert cfg.visualization_hook.type == 'GroundingVisualizationHook'
    assert cfg.val_evaluator.type == 'GroundingF1Metric'
    assert cfg.test_dataloader.dataset.label_source == 'true'
    no_text = osp.basename(path).startswith('notext')
    assert (cfg.model.text_encoder is None) == no_text


def test_paper_config_keeps_the_paper_network():
    cfg = Config.fromfile(osp.join(
        CONFIG_DIR, 'contextual-net-3d_dynunet_minilm_phantompet-weak.py'))
    assert tuple(cfg.model.filters) == (64, 96, 128, 192, 256)
    assert tuple(cfg.model.strides) == (1, 2, 2, 2, 2)
    assert cfg.model.overlap == 0.625
    assert cfg.optim_wrapper.optimizer.lr == 5e-5
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'


@pytest.mark.slow
def test_benchmark_tool_tiny(tmp_path):
    import runpy
    tool = runpy.run_path(osp.join(REPO, 'tools', 'benchmarks',
                                   'grounding_table.py'))
    summary = tool['main'](['--preset', 'tiny', '--data-root',
                            str(tmp_path / 'data'), '--work-dir',
                            str(tmp_path / 'work')])
    assert set(summary['models']) == {'notext-weak', 'contextual-weak',
                                      'contextual-true'}
    assert summary['weak_labels']['kept'] > 0
    for name in ('grounding_table.json', 'grounding_table.png'):
        assert os.path.isfile(tmp_path / 'work' / name)
