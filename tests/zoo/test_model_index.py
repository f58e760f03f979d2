"""The repository's model zoo: every metafile is indexed, every entry points
at a config that loads, every published file matches its sha256 and (slow)
its metric is reproduced by tools/test.py."""
import glob
import json
import os.path as osp

import pytest
from mmengine.config import Config

from wsvision.apis.hub import (REPO_ROOT, is_url, load_model_index,
                               resolve_checkpoint, sha256_of)

from tests.conftest import load_tool

INDEX = osp.join(REPO_ROOT, 'model-index.yml')
ENTRIES = load_model_index(INDEX)
PUBLISHED = [e for e in ENTRIES.values() if e.weights]
#: Metafile metrics are reproduced within 0.5 points (metrics in [0, 1]).
TOLERANCE = 0.005


def test_every_metafile_is_indexed():
    metafiles = {e.metafile for e in ENTRIES.values()}
    on_disk = set(glob.glob(osp.join(REPO_ROOT, 'configs', '*',
                                     'metafile.yml')))
    assert on_disk and on_disk <= metafiles


@pytest.mark.parametrize('name', sorted(ENTRIES))
def test_entry_config_exists_and_is_named_after_it(name):
    entry = ENTRIES[name]
    assert osp.isfile(entry.config), entry.config
    assert osp.splitext(osp.basename(entry.config))[0] == name
    assert 'model' in Config.fromfile(entry.config,
                                      import_custom_modules=False)


@pytest.mark.parametrize('name', sorted(e.name for e in PUBLISHED
                                        if not is_url(e.weights)))
def test_repository_weights_match_their_sha256(name):
    entry = ENTRIES[name]
    assert osp.isfile(entry.weights), f'{name}: {entry.weights} is missing'
    assert sha256_of(entry.weights) == entry.sha256
    assert entry.metrics, f'{name}: published without metrics'


@pytest.mark.slow
@pytest.mark.parametrize('name', sorted(e.name for e in PUBLISHED
                                        if e.metrics))
def test_metric_is_reproduced_by_tools_test(name, tmp_path):
    entry = ENTRIES[name]
    cfg = Config.fromfile(entry.config)
    data_root = osp.join(REPO_ROOT, cfg.test_dataloader.dataset.data_root)
    if not osp.isdir(data_root):
        pytest.skip(f'{data_root} is not built')
    test_tool = load_tool('test.py')
    out = tmp_path / 'metrics.json'
    test_tool.main([entry.config, resolve_checkpoint(entry.weights,
                                                     entry.sha256),
                    '--work-dir', str(tmp_path), '--out', str(out),
                    '--cfg-options',
                    f'test_dataloader.dataset.data_root={data_root}'])
    measured = json.loads(out.read_text())
    for key, listed in entry.metrics.items():
        assert abs(measured[key] - listed) <= TOLERANCE, (
            f'{name}: {key} measured {measured[key]:.4f}, metafile {listed}')
