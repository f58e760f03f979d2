"""WSCoL end to end on the `tiny` FashionScenes foggy build: the unlabelled
target loader, training through the Runner with validation-based model
selection, the pseudo-label quality log, a single test; and (slow) the whole
benchmark."""
import argparse
import json
import os.path as osp
import shutil

import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope

from tests.conftest import REPO, fashion_mnist_available, load_tool
from wsvision.datasets.io import DataError
from wsvision.registry import DATASETS, MODELS
from wsvision.utils.config import load_config

pytestmark = pytest.mark.skipif(not fashion_mnist_available(),
                                reason='Fashion-MNIST is not installed')
WSCOL_CONFIG = 'configs/wscol/wscol_faster-rcnn_r18_fpn_fashionscenes-foggy.py'


def load_benchmark():
    return load_tool('benchmarks', 'sfod_table.py')


@pytest.fixture(scope='module')
def foggy_root(tmp_path_factory):
    from wsvision.datasets.fashion_scenes import build_variant
    root = tmp_path_factory.mktemp('wscol_fashion_scenes')
    build_variant(str(root), 'foggy', preset='tiny', seed=0, foggy_num_train=6,
                  foggy_num_val=4, foggy_num_test=4)
    return str(root / 'foggy')


def build_dataset(cfg):
    import wsvision.models.wscol  # noqa: F401  (registers the target loader)
    with DefaultScope.overwrite_default_scope('wsvision'):
        return DATASETS.build(cfg)


def test_target_train_split_loads_without_labels(foggy_root, tmp_path):
    cfg = load_config(osp.join(REPO, WSCOL_CONFIG)).train_dataloader.dataset
    cfg.data_root = foggy_root
    unlabelled = build_dataset(dict(cfg, hidden_ann_file=None, pipeline=[]))
    assert len(unlabelled) == 6
    assert all(unlabelled[i]['instances'] == [] and 'hidden_instances' not in unlabelled[i]
               for i in range(6))
    # The config's pipeline: no gt_instances, hidden boxes moved by the flip.
    cfg.pipeline[2].geometric = [dict(type='RandomFlip', prob=1.0)]
    dataset = build_dataset(cfg)
    sample = dataset[0]['data_samples']
    assert 'gt_instances' not in sample
    assert sample.strong_inputs.shape == dataset[0]['inputs'].shape
    hidden = build_dataset(dict(cfg, pipeline=[dict(type='LoadHiddenAnnotations')]))[0]
    width = sample.ori_shape[1]
    np.testing.assert_allclose(sample.hidden_bboxes[:, [2, 0]],
                               width - hidden['hidden_bboxes'][:, [0, 2]])
    with pytest.raises(DataError, match='meta.json not found'):
        build_dataset(dict(cfg, data_root=str(tmp_path), hidden_ann_file=None))
    shutil.copy(osp.join(foggy_root, 'meta.json'), tmp_path)
    with pytest.raises(DataError, match='image list not found: .*image_list.json'):
        build_dataset(dict(cfg, data_root=str(tmp_path), hidden_ann_file=None))


def test_wscol_adapts_selects_on_val_and_tests_once(foggy_root, tmp_path):
    benchmark = load_benchmark()
    args = argparse.Namespace(preset='tiny', iters_scale=0.1, seed=0)
    # An untrained source detector with the tiny preset's sizes.
    options = benchmark.run_options(WSCOL_CONFIG, args, foggy_root,
                                    benchmark.PRESET_SCHEDULES['tiny']['adapt_iters'])
    cfg = load_config(osp.join(REPO, WSCOL_CONFIG), options)
    torch.manual_seed(0)
    source = MODELS.build(cfg.model.detector)
    source_path = str(tmp_path / 'source.pth')
    torch.save(dict(state_dict=source.state_dict()), source_path)
    options.update({'load_from': source_path,
                    # Accept every teacher box so that every loss term runs.
                    'model.wscol.score_thr': 0.0,
                    'model.detector.roi_head.max_per_img': 4,
                    'train_dataloader.batch_size': 2,
                    'default_hooks.logger.interval': 1})
    assert options['train_cfg.max_iters'] == 3
    result = benchmark.train_and_test('wscol', WSCOL_CONFIG, options,
                                      str(tmp_path / 'run'))
    assert osp.basename(result['checkpoint']).startswith('best_coco_AP50_iter_')
    assert 0.0 <= result['metrics']['coco/AP50'] <= 1.0
    quality = json.load(open(tmp_path / 'run' / 'pl_quality.json'))
    assert quality['total']['num_pred'] > 0 and quality['total']['num_gt'] > 0
    assert (tmp_path / 'run' / 'pl_quality.png').is_file()
    logged = set()
    for path in (tmp_path / 'run').glob('*/vis_data/scalars.json'):
        for line in path.read_text().splitlines():
            logged |= set(json.loads(line))
    assert {'loss_contrast', 'loss_weak_strong', 'loss_grad_discrepancy',
            'loss_kl', 'unsup_loss_cls',
            # the background-uncertainty diagnostics (loss 4's switch)
            'nms_count_var', 'fg_only_frac'} <= logged
    train_log = next((tmp_path / 'run').glob('*/*.log')).read_text()
    assert f'Load checkpoint from {source_path}' in train_log
    # The teacher moved away from the source weights by EMA.
    state = torch.load(result['checkpoint'], map_location='cpu',
                       weights_only=True)['state_dict']
    key = 'roi_head.classifier.fc.weight'
    assert not torch.equal(state[f'mean_teacher.teacher.{key}'],
                           source.state_dict()[key])


@pytest.mark.slow
def test_benchmark_tiny_writes_the_table(tmp_path):
    benchmark = load_benchmark()
    summary = benchmark.main(['--preset', 'tiny', '--iters-scale', '0.1',
                              '--data', str(tmp_path / 'data'),
                              '--work-dir', str(tmp_path / 'out')])
    methods = [row['method'] for row in summary['table']]
    assert methods == ['source-only', 'mean teacher', '+ contrastive',
                       '+ uncertainty', '+ weak-to-strong (WSCoL)', 'target oracle']
    assert all(0.0 <= row['ap50'] <= 100.0 for row in summary['table'])
    saved = json.load(open(tmp_path / 'out' / 'sfod_table.json'))
    assert saved['table'] == summary['table']
    assert (tmp_path / 'out' / 'sfod_table.png').is_file()
    for run in summary['runs'].values():  # the target test split, once per row
        assert 'foggy' in run['config'] or run is summary['runs']['source-only']
    # --rows: finished rows are reused, so asking for row 1 again keeps the
    # whole table; a folder holding only the oracle gives a one-row table
    # whose WSCoL targets are not measured.
    again = benchmark.main(['--preset', 'tiny', '--iters-scale', '0.1', '--rows', '1',
                            '--data', str(tmp_path / 'data'),
                            '--work-dir', str(tmp_path / 'out')])
    assert [row['method'] for row in again['table']] == methods
    assert again['table'][1:] == summary['table'][1:]
    shutil.copytree(tmp_path / 'out' / 'oracle', tmp_path / 'oracle_only' / 'oracle')
    alone = benchmark.main(['--preset', 'tiny', '--iters-scale', '0.1', '--rows', '6',
                            '--data', str(tmp_path / 'data'),
                            '--work-dir', str(tmp_path / 'oracle_only')])
    assert [row['method'] for row in alone['table']] == ['target oracle']
    assert set(alone['targets'].values()) == {None}
    with pytest.raises(SystemExit):
        benchmark.parse_args(['--rows', '7'])


@pytest.mark.slow
def test_wscol_trains_under_ddp_with_two_gloo_ranks(foggy_root, tmp_path, cli_env):
    import subprocess
    import sys
    benchmark = load_benchmark()
    args = argparse.Namespace(preset='tiny', iters_scale=0.1, seed=0)
    options = benchmark.run_options(WSCOL_CONFIG, args, foggy_root,
                                    benchmark.PRESET_SCHEDULES['tiny']['adapt_iters'])
    cfg = load_config(osp.join(REPO, WSCOL_CONFIG), options)
    source_path = str(tmp_path / 'source.pth')
    torch.save(dict(state_dict=MODELS.build(cfg.model.detector).state_dict()), source_path)
    options.update({'load_from': source_path, 'model.wscol.score_thr': 0.0,
                    'model.detector.roi_head.max_per_img': 4,
                    'train_dataloader.batch_size': 2})
    cli_options = [f'{key}={value}'.replace(' ', '') for key, value in options.items()]
    result = subprocess.run(
        ['bash', osp.join(REPO, 'tools', 'dist_train.sh'), osp.join(REPO, WSCOL_CONFIG),
         '2', '--work-dir', str(tmp_path / 'run'), '--cfg-options', *cli_options],
        env=dict(cli_env, PYTHON=sys.executable, PORT='29533'),
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    digests = [json.loads((tmp_path / 'run' / f'weights_digest_rank{r}.json').read_text())
               for r in (0, 1)]
    assert digests[0]['digest'] == digests[1]['digest']
    quality = json.loads((tmp_path / 'run' / 'pl_quality.json').read_text())
    assert quality['total']['num_pred'] > 0
