"""tools/train.py and tools/test.py end to end: resume after SIGKILL, errors, overlays."""
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
import torch

from tests.conftest import REPO, SEG_CONFIG, small_seg_options

TRAIN = osp.join(REPO, 'tools', 'train.py')
TEST = osp.join(REPO, 'tools', 'test.py')


def train_cmd(work_dir, options, *extra):
    return [sys.executable, TRAIN, SEG_CONFIG, '--work-dir', str(work_dir),
            *extra, '--cfg-options', *options]


def load_state(path):
    return torch.load(path, map_location='cpu', weights_only=True)


def test_kill_and_resume_matches_uninterrupted_run(tiny_scenes, tmp_path, cli_env):
    options = small_seg_options(tiny_scenes, max_iters=8, checkpoint_interval=2)
    straight = tmp_path / 'straight'
    subprocess.run(train_cmd(straight, options), env=cli_env, check=True,
                   capture_output=True)

    interrupted = tmp_path / 'interrupted'
    proc = subprocess.Popen(train_cmd(interrupted, options), env=cli_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (interrupted / 'iter_4.pth').exists():
        assert proc.poll() is None, 'training ended before it could be killed'
        assert time.time() < deadline, 'no checkpoint at iteration 4 in time'
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (interrupted / 'iter_8.pth').exists(), 'killed too late'

    subprocess.run(train_cmd(interrupted, options, '--resume'), env=cli_env,
                   check=True, capture_output=True)
    expected = load_state(straight / 'iter_8.pth')
    resumed = load_state(interrupted / 'iter_8.pth')
    assert resumed['meta']['iter'] == expected['meta']['iter'] == 8
    assert expected['state_dict'].keys() == resumed['state_dict'].keys()
    for name, tensor in expected['state_dict'].items():
        assert torch.equal(tensor, resumed['state_dict'][name]), name


def run_tool(cmd, env):
    return subprocess.run(cmd, env=env, capture_output=True, text=True)


def test_config_typo_is_one_line_error(tiny_scenes, tmp_path, cli_env):
    result = run_tool(train_cmd(tmp_path, ['model.decode_head.num_clases=3']),
                      cli_env)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "error: unknown config key 'model.decode_head.num_clases' "
        "(did you mean 'model.decode_head.num_classes'?)"]


def test_missing_data_folder_is_one_line_error(tmp_path, cli_env):
    missing = tmp_path / 'no_such_folder'
    options = [f'{split}_dataloader.dataset.data_root={missing}'
               for split in ('train', 'val', 'test')]
    result = run_tool(train_cmd(tmp_path / 'work', options), cli_env)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith('error: ') and str(missing) in last
    assert 'Traceback' not in result.stderr


def test_test_tool_writes_metrics_and_overlays(tiny_scenes, tmp_path, cli_env):
    options = small_seg_options(tiny_scenes, max_iters=2, checkpoint_interval=2)
    subprocess.run(train_cmd(tmp_path, options), env=cli_env, check=True,
                   capture_output=True)
    out_json, show_dir = tmp_path / 'metrics.json', tmp_path / 'overlays'
    result = run_tool([sys.executable, TEST, SEG_CONFIG,
                       str(tmp_path / 'iter_2.pth'), '--work-dir', str(tmp_path),
                       '--out', str(out_json), '--show-dir', str(show_dir),
                       '--cfg-options', *options], cli_env)
    assert result.returncode == 0, result.stderr[-2000:]
    import json
    metrics = json.loads(out_json.read_text())
    assert 0.0 <= metrics['mIoU'] <= 1.0
    pngs = sorted(os.listdir(show_dir))
    assert len(pngs) == 8 and all(name.endswith('.png') for name in pngs)
