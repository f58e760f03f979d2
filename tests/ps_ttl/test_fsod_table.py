"""``tools/benchmarks/fsod_table.py``: the K-shot sample it fine-tunes on."""
import json
import os
import os.path as osp

import pytest

from tests.conftest import load_tool


@pytest.fixture
def fsod_table():
    return load_tool('benchmarks', 'fsod_table.py')


@pytest.fixture
def fewshot_root(tmp_path):
    """A data folder with only the ``fewshot/splits.json`` the table reads."""
    root = tmp_path / 'data'
    os.makedirs(root / 'fewshot')
    (root / 'test').mkdir()
    (root / 'test' / 'instances.json').write_text(json.dumps(dict(images=[{}] * 4)))
    splits = dict(shots=[1, 2], seeds=[0, 1], image_dir='train',
                  test='test/instances.json',
                  splits={'1': dict(base_classes=['a'], base_ids=[1],
                                    novel_classes=['b'], novel_ids=[2])})
    (root / 'fewshot' / 'splits.json').write_text(json.dumps(splits))
    return str(root)


def test_an_unknown_shot_seed_is_refused_by_name(fsod_table, fewshot_root, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        fsod_table.main(['--preset', 'tiny', '--data', fewshot_root, '--shot-seed', '3',
                         '--work-dir', str(tmp_path / 'out')])
    assert 'seed 3' in str(exit_info.value) and '[0, 1]' in str(exit_info.value)
    assert not osp.exists(tmp_path / 'out')


def test_a_shot_seed_fine_tunes_on_its_sample_and_names_its_runs(
        fsod_table, fewshot_root, tmp_path, monkeypatch):
    trained, adapted = [], []

    def train(name, config, options, out):
        trained.append((name, options))
        return osp.join(out, name, 'last.pth')

    def test_time_learning(name, config, checkpoint, options, out):
        adapted.append((name, checkpoint, options))
        scores = {f'{prefix}coco/{key}': 0.5 for prefix in ('', 'before_ttl/')
                  for key in ('nAP50', 'bAP50', 'AP')}
        return dict(metrics=scores)

    monkeypatch.setattr(fsod_table, 'train', train)
    monkeypatch.setattr(fsod_table, 'test_time_learning', test_time_learning)
    out = tmp_path / 'out'
    result = fsod_table.main(['--preset', 'tiny', '--data', fewshot_root,
                              '--shot-seed', '1', '--shots', '2', '--work-dir', str(out)])

    assert [name for name, _ in trained] == ['base', 'finetune_2shot_seed1']
    ann = 'train_dataloader.dataset.ann_file=fewshot/seed1/split1_2shot.json'
    assert ann in trained[1][1]
    assert [name for name, *_ in adapted] == ['ps-ttl_2shot_seed1', 'ps-ttl-no-soft_2shot_seed1']
    assert adapted[0][1] == osp.join(str(out), 'finetune_2shot_seed1', 'last.pth')
    assert all('test_cfg.shot_dataloader.dataset.ann_file=fewshot/seed1/split1_2shot.json'
               in options for *_, options in adapted)
    assert result['shot_seed'] == 1
    assert osp.isfile(out / 'fsod_table_seed1.json') and osp.isfile(out / 'fsod_table_seed1.png')
