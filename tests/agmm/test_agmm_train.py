"""Every weak-label type trains end to end on the `tiny` FashionScenes build."""
import argparse
import json
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import DictAction
from mmengine.runner import Runner

from tests.conftest import REPO, load_tool, small_seg_options
from wsvision.utils.config import load_config


WSSS_TABLE = load_tool('benchmarks', 'wsss_table.py')
LABEL_TYPES = WSSS_TABLE.LABEL_TYPES


def config_path(method: str, label_type: str) -> str:
    return osp.join(REPO, WSSS_TABLE.WEAK_CONFIG.format(method=method,
                                                        suffix=LABEL_TYPES[label_type]))


def small_options(data_root: str, method: str, max_iters: int = 2) -> list:
    options = small_seg_options(data_root, max_iters=max_iters, checkpoint_interval=max_iters)
    if not method.startswith('partial-ce'):
        options.append('model.losses.0.feat_channels=16')  # the shrunk decode head
    return options


def train(config: str, options: list, work_dir) -> Runner:
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    cfg = load_config(config, parser.parse_args(['--cfg-options', *options]).cfg_options)
    cfg.work_dir = str(work_dir)
    cfg.log_level = 'WARNING'
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


@pytest.mark.parametrize('label_type', list(LABEL_TYPES))
def test_agmm_trains_on_every_label_type(weak_scenes, tmp_path, label_type):
    runner = train(config_path('agmm', label_type), small_options(weak_scenes, 'agmm'), tmp_path)
    dataset = runner.train_dataloader.dataset
    assert dataset.weak_label == label_type
    batch = runner.model.data_preprocessor(next(iter(runner.train_dataloader)), training=True)
    terms = runner.model(**batch, mode='loss')
    assert {'loss_ce', 'loss_sep', 'loss_sbce', 'loss_label', 'loss_absent', 'loss_max',
            'loss_pseudo', 'loss_cls'} == set(terms)
    assert all(torch.isfinite(value) for value in terms.values())
    # The running mixture is checkpointed with the model.
    state = torch.load(tmp_path / 'iter_2.pth', map_location='cpu',
                       weights_only=True)['state_dict']
    assert int(state['losses.0.mixture.num_updates']) == 2
    assert state['losses.0.mixture.mean'].shape == (11, 16)


@pytest.mark.parametrize('method,label_type', [('partial-ce', 'points'),
                                               ('agmm-cvpr', 'scribbles')])
def test_baseline_and_reference_configs_train(weak_scenes, tmp_path, method, label_type):
    runner = train(config_path(method, label_type), small_options(weak_scenes, method), tmp_path)
    assert osp.isfile(tmp_path / 'iter_2.pth')
    assert runner.train_dataloader.dataset.weak_label == label_type


@pytest.mark.parametrize('method', ['agmm-affinity', 'partial-ce-affinity'])
def test_colour_affinity_configs_train(weak_scenes, tmp_path, method):
    runner = train(config_path(method, 'scribbles'), small_options(weak_scenes, method),
                   tmp_path)
    batch = runner.model.data_preprocessor(next(iter(runner.train_dataloader)), training=True)
    terms = runner.model(**batch, mode='loss')
    assert 'loss_affinity' in terms and 'loss_ce' in terms
    assert torch.isfinite(terms['loss_affinity']) and terms['loss_affinity'].item() > 0


def test_box_tightness_config_trains(weak_scenes, tmp_path):
    runner = train(config_path('agmm-tightness-affinity', 'boxes'),
                   small_options(weak_scenes, 'agmm'), tmp_path)
    batch = runner.model.data_preprocessor(next(iter(runner.train_dataloader)), training=True)
    assert any(len(sample.gt_instances) for sample in batch['data_samples'])
    terms = runner.model(**batch, mode='loss')
    assert {'loss_tightness', 'loss_affinity', 'loss_ce'} <= set(terms)
    assert torch.isfinite(terms['loss_tightness']) and terms['loss_tightness'].item() > 0


def test_train_and_test_cli_on_boxes(weak_scenes, tmp_path, cli_env):
    config = config_path('agmm', 'boxes')
    options = small_options(weak_scenes, 'agmm')
    subprocess.run([sys.executable, osp.join(REPO, 'tools', 'train.py'), config,
                    '--work-dir', str(tmp_path), '--cfg-options', *options],
                   env=cli_env, check=True, capture_output=True)
    result = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'test.py'), config,
                             str(tmp_path / 'iter_2.pth'), '--work-dir', str(tmp_path),
                             '--out', str(tmp_path / 'metrics.json'), '--cfg-options',
                             *options], env=cli_env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert 0 <= json.loads((tmp_path / 'metrics.json').read_text())['mIoU'] <= 1


@pytest.mark.slow
def test_wsss_table_smoke_run_and_resume(tiny_scenes, tmp_path, cli_env):
    """The benchmark on `tiny` with 2 iterations: table, JSON and PNG; a
    second call skips every finished run; a third trains only AGMM."""
    import shutil
    data = tmp_path / 'data'
    shutil.copytree(tiny_scenes, data)  # the benchmark adds its weak labels
    cmd = [sys.executable, osp.join(REPO, 'tools', 'benchmarks', 'wsss_table.py'),
           '--preset', 'tiny', '--data', str(data), '--out', str(tmp_path / 'out'),
           '--types', 'points,boxes', '--cfg-options', 'train_cfg.max_iters=2',
           'train_cfg.val_interval=2', 'train_dataloader.batch_size=2']
    first = subprocess.run(cmd, env=cli_env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr[-3000:]
    lines = first.stdout.splitlines()
    header = lines.index('label type | partial-CE mIoU | AGMM mIoU | AGMM / full ratio')
    assert [line.split(' | ')[0].strip() for line in lines[header + 2:header + 4]] == [
        'points', 'boxes']
    summary = json.loads((tmp_path / 'out' / 'wsss_table.json').read_text())
    assert set(summary['runs']) == {'full', 'partial-ce-points', 'agmm-points',
                                    'partial-ce-boxes', 'agmm-boxes'}
    for run in summary['runs'].values():
        assert run['seed'] == 0 and run['max_iters'] == 2 and run['train_wall_s'] > 0
    row = summary['table'][0]
    assert row['agmm_full_ratio'] == pytest.approx(row['agmm_miou'] / summary['full_miou'])
    assert (tmp_path / 'out' / 'wsss_table.png').stat().st_size > 0
    second = subprocess.run(cmd, env=cli_env, capture_output=True, text=True)
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.stdout.count('done before, skipped') == 5
    # --methods agmm: a new type trains AGMM only; partial CE stays '-'.
    # --extras: points and tags train the configs with the colour affinity, in
    # their own folders.
    types = cmd.index('--types') + 1
    third = subprocess.run(cmd[:types] + ['points,tags', '--methods', 'agmm', '--extras']
                           + cmd[types + 1:], env=cli_env, capture_output=True, text=True)
    assert third.returncode == 0, third.stderr[-3000:]
    assert 'agmm-affinity_deeplabv3plus_r18_fashionscenes-tag: training' in third.stdout
    assert 'agmm-affinity_deeplabv3plus_r18_fashionscenes-point: training' in third.stdout
    assert ('--extras: partial-ce-affinity_deeplabv3plus_r18_fashionscenes-point'
            not in third.stdout)  # never trained: not in the table
    assert ('--extras: agmm-affinity_deeplabv3plus_r18_fashionscenes-point, '
            'agmm-affinity_deeplabv3plus_r18_fashionscenes-tag\n') in third.stdout
    assert 'partial-ce_deeplabv3plus_r18_fashionscenes-tag' not in third.stdout
    tags = json.loads((tmp_path / 'out' / 'wsss_table.json').read_text())['table'][1]
    assert tags['label_type'] == 'tags' and tags['partial_ce_miou'] is None
    assert 0 <= tags['agmm_miou'] <= 1


def test_wsss_table_extras_pick_configs_that_add_losses():
    """--extras swaps in, for both methods where it exists, the config that
    adds the losses which are not in the paper; other types keep theirs."""
    for label_type in LABEL_TYPES:
        for method in WSSS_TABLE.METHODS:
            plain = WSSS_TABLE.weak_config(method, label_type)
            extra = WSSS_TABLE.weak_config(method, label_type, extras=True)
            assert plain == WSSS_TABLE.WEAK_CONFIG.format(method=method,
                                                          suffix=LABEL_TYPES[label_type])
            assert osp.isfile(osp.join(REPO, extra)), extra
            losses = [loss['type'] for loss in
                      load_config(osp.join(REPO, extra)).model.losses]
            added = sorted(set(losses) - {loss['type'] for loss in
                                          load_config(osp.join(REPO, plain)).model.losses})
            expected = {'scribbles': ['ColourAffinityLoss'], 'points': ['ColourAffinityLoss'],
                        'boxes': ['BoxTightnessLoss', 'ColourAffinityLoss'],
                        'tags': ['ColourAffinityLoss']}
            if method == 'partial-ce':  # no box or tag config of its own with extras
                expected['boxes'] = expected['tags'] = []
            assert added == expected.get(label_type, []), (method, label_type, added)
            assert (extra == plain) == (not added)


def test_wsss_table_rows_with_unmeasured_runs_and_targets():
    """A run that was not trained is a '-' cell and an unmeasured target; the
    ratio and the points margin are computed from what exists."""
    def run(miou):
        return dict(metrics=dict(mIoU=miou))

    results = {'full': run(0.5), 'agmm-points': run(0.45), 'partial-ce-points': run(0.40),
               'agmm-boxes': run(0.48)}
    rows = WSSS_TABLE.table_rows(results, ['points', 'boxes', 'tags'])
    assert rows[1]['partial_ce_miou'] is None and rows[2]['agmm_miou'] is None
    assert rows[1]['agmm_full_ratio'] == pytest.approx(0.96)
    met = WSSS_TABLE.targets(rows)
    assert met['points: AGMM / full >= 0.92 (measured 0.900)'] is False
    assert met['boxes: AGMM / full >= 0.93 (measured 0.960)'] is True
    assert met['tags: AGMM / full >= 0.80'] is None
    assert met['points: AGMM >= partial CE + 0.03 mIoU (measured +0.0500)'] is True
    text = WSSS_TABLE.format_table(rows, 0.5)
    assert 'boxes      | -               | 0.4800    | 0.960' in text
    assert 'not measured: tags: AGMM / full >= 0.80' in text
    assert 'NOT met: points: AGMM / full >= 0.92 (measured 0.900)' in text
