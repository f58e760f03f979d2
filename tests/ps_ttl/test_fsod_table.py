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


def test_several_shot_seeds_share_the_base_model_and_are_summarised(
        fsod_table, fewshot_root, tmp_path, monkeypatch):
    trained = []

    def train(name, config, options, out):
        trained.append(name)
        return osp.join(out, name, 'last.pth')

    # nAP50 per (sample, run): fine-tuned / after TTL / TTL without soft labels.
    nap50 = {'seed1': (0.10, 0.14, 0.12), '2shot': (0.20, 0.18, 0.19)}

    def test_time_learning(name, config, checkpoint, options, out):
        ft, ttl, no_soft = nap50['seed1' if name.endswith('seed1') else '2shot']
        after = no_soft if 'no-soft' in name else ttl
        scores = {f'coco/{key}': after for key in ('nAP50', 'bAP50', 'AP')}
        scores.update({f'before_ttl/coco/{key}': ft for key in ('nAP50', 'bAP50', 'AP')})
        return dict(metrics=scores)

    monkeypatch.setattr(fsod_table, 'train', train)
    monkeypatch.setattr(fsod_table, 'test_time_learning', test_time_learning)
    out = tmp_path / 'out'
    summary = fsod_table.main(['--preset', 'tiny', '--data', fewshot_root,
                               '--shot-seed', '0', '1', '--shots', '2',
                               '--work-dir', str(out)])

    assert trained == ['base', 'finetune_2shot', 'finetune_2shot_seed1']
    assert summary['shot_seeds'] == [0, 1]
    row = summary['table'][2]
    assert row['finetuned']['nAP50']['mean'] == pytest.approx(0.15)
    assert row['finetuned']['nAP50']['std'] == pytest.approx(0.05 * 2 ** 0.5)  # sample std
    assert row['ttl']['nAP50']['mean'] == pytest.approx(0.16)
    assert row['ttl_no_soft']['nAP50']['std'] == pytest.approx(0.035 * 2 ** 0.5)
    # TTL beats fine-tuning on sample 1 only; so do the soft labels.
    assert summary['wins'][2] == dict(ttl_over_finetuned=1, soft_over_no_soft=1)
    for name in ('fsod_table', 'fsod_table_seed1', 'fsod_table_samples'):
        assert osp.isfile(out / f'{name}.json') and osp.isfile(out / f'{name}.png')
    saved = json.loads((out / 'fsod_table_samples.json').read_text())
    assert saved['per_sample']['1']['2']['ttl']['nAP50'] == pytest.approx(0.14)
