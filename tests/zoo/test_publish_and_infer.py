"""publish_model.py -> model index -> init_model by name -> tools/infer.py."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
import yaml

from wsvision.apis import init_model, inference_segmentor
from wsvision.apis.hub import REPO_ROOT, sha256_of
from wsvision.datasets.io import read_image

from tests.conftest import load_tool
from tests.apis.helpers import (DEMO_IMAGE,
                                save_training_checkpoint, write_model_index,
                                write_tiny_seg_config)

infer = load_tool('infer.py')
publish_model = load_tool('model_zoo', 'publish_model.py')


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """(config, training checkpoint) of a tiny segmentor."""
    folder = tmp_path_factory.mktemp('work_dir')
    config = write_tiny_seg_config(folder)
    torch.manual_seed(0)
    model = init_model(config, checkpoint=None)
    return config, save_training_checkpoint(model, config,
                                            str(folder / 'iter_6.pth'))


def test_publish_strips_state_and_names_file_by_hash(trained, tmp_path,
                                                     capsys):
    config, checkpoint = trained
    metrics = tmp_path / 'metrics.json'
    metrics.write_text(json.dumps({'mIoU': 0.41234, 'aAcc': 0.9,
                                   'IoU.background': 0.95}))
    path, entry = publish_model.main([
        checkpoint, '--out-dir', str(tmp_path / 'out'), '--fp16',
        '--config', 'configs/x/tiny_seg.py', '--metrics', str(metrics),
        '--url-prefix', 'https://example.org/releases'])
    assert osp.basename(path) == f'tiny_seg-{sha256_of(path)[:8]}.pth'
    published = torch.load(path, weights_only=True)
    assert sorted(published) == ['meta', 'state_dict']
    meta = published['meta']
    assert 'model = dict(' in meta['cfg']
    assert meta['dataset_meta']['classes'][1] == 't-shirt/top'
    assert len(meta['git_commit'].split('+')[0]) == 40
    weights = published['state_dict']
    assert weights['decode_head.cls_seg.weight'].dtype == torch.float16
    assert weights['backbone.bn1.num_batches_tracked'].dtype == torch.int64
    assert entry['Sha256'] == sha256_of(path)
    assert entry['Weights'] == f'https://example.org/releases/' \
        f'{osp.basename(path)}'
    assert entry['Results'][0]['Metrics'] == {'mIoU': 0.4123, 'aAcc': 0.9}
    printed = capsys.readouterr().out.split('(under `Models:`):\n')[1]
    assert yaml.safe_load(printed) == [entry]
    # The same checkpoint gives the same file.
    again, _ = publish_model.main([checkpoint, '--out-dir',
                                   str(tmp_path / 'out'), '--fp16',
                                   '--config', 'x.py', '--url-prefix', 'u'])
    assert again == path


def test_fp16_weights_predict_like_fp32(trained, tmp_path):
    config, checkpoint = trained
    path, _ = publish_model.main([checkpoint, '--out-dir', str(tmp_path),
                                  '--fp16', '--config', 'x.py',
                                  '--url-prefix', 'u'])
    full = inference_segmentor(init_model(config, checkpoint), DEMO_IMAGE)
    half = inference_segmentor(init_model(config, path), DEMO_IMAGE)
    agree = (full.pred_sem_seg.data == half.pred_sem_seg.data).float().mean()
    assert agree > 0.99


def test_publish_refuses_a_file_outside_the_repository(trained, tmp_path):
    config, checkpoint = trained
    with pytest.raises(SystemExit, match='outside the repository'):
        publish_model.main([checkpoint, '--out-dir', str(tmp_path),
                            '--config', 'x.py'])


def test_infer_cli_by_name_end_to_end(trained, tmp_path, cli_env,
                                     monkeypatch):
    """What a fresh user runs: a zoo name and an image -> overlay PNGs."""
    config, checkpoint = trained
    zoo = tmp_path / 'zoo'
    zoo.mkdir()
    path, _ = publish_model.main([checkpoint, '--out-dir', str(zoo),
                                  '--fp16', '--config', 'x.py',
                                  '--url-prefix', 'u'])
    index = write_model_index(zoo, [dict(
        Name='tiny_seg', Config=config, Weights=osp.basename(path),
        Sha256=sha256_of(path))])
    env = dict(cli_env, WSVISION_MODEL_INDEX=index,
               WSVISION_HOME=str(tmp_path / 'cache'))
    images = tmp_path / 'images'
    images.mkdir()
    for name in ('a.png', 'b.png'):
        (images / name).write_bytes(open(DEMO_IMAGE, 'rb').read())
    run = subprocess.run(
        [sys.executable, osp.join(REPO_ROOT, 'tools', 'infer.py'), 'tiny_seg',
         DEMO_IMAGE, str(images), '--out', str(tmp_path / 'out')],
        env=env, capture_output=True, text=True, cwd=str(tmp_path))
    assert run.returncode == 0, run.stderr
    assert 'wrote 3 overlay(s)' in run.stdout
    assert 'infer: 100%' in run.stderr  # the progress bar
    assert sorted(os.listdir(tmp_path / 'out')) == ['a.png', 'b.png',
                                                    'demo.png']
    overlay = read_image(str(tmp_path / 'out' / 'demo.png'))
    assert overlay.shape[1] == 512 and overlay.shape[0] > 256
    # A tampered zoo file stops the command with a clear message.
    with open(path, 'r+b') as f:
        f.seek(1000)
        f.write(b'\0' * 8)
    monkeypatch.setenv('WSVISION_MODEL_INDEX', index)
    with pytest.raises(SystemExit, match='error: checkpoint .* tampered with'):
        infer.main(['tiny_seg', DEMO_IMAGE, '--out', str(tmp_path / 'out2')])
    assert not (tmp_path / 'out2').exists()
