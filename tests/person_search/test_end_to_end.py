"""End to end on the `tiny` preset: the benchmark trains and tests its rows,
``tools/test.py --show-dir`` writes query / top-k strips, and a real-format
config (PRW) trains and searches with the same model."""
import json
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from tests.conftest import REPO, load_tool
from tests.fixtures.person_search_formats import build_prw

TINY_MODEL = {
    'model.backbone.depth': 18, 'model.backbone.base_channels': 8,
    'model.neck.in_channels': [8, 16, 32, 64], 'model.neck.out_channels': 16,
    'model.rpn.in_channels': 16, 'model.roi_head.in_channels': 16,
    'model.roi_head.fc_channels': 64, 'model.reid_head.embed_dim': 128,
}


def test_benchmark_and_show_dir_on_tiny(tiny_person_search, tmp_path):
    table = load_tool('benchmarks', 'person_search_table.py')
    work = tmp_path / 'bench'
    summary = table.main(['--preset', 'tiny', '--data', tiny_person_search,
                          '--work-dir', str(work), '--iters-scale', '0.002',
                          '--rows', 'baseline,ssl'])
    for key in ('baseline', 'ssl'):
        row = summary['rows'][key]
        assert row['max_iters'] == 4
        assert 0.0 <= row['mAP'] <= 1.0 and 0.0 <= row['top1'] <= 1.0
        assert row['num_queries'] > 0
        # Training ends with a search on val, which has its own queries.
        assert 0.0 <= row['val_mAP'] <= 1.0 and 0.0 <= row['val_top1'] <= 1.0
        assert row['val_num_queries'] > 0
    assert 'val mAP' in table.format_table(summary['rows'])
    written = json.loads((work / 'person_search_table.json').read_text())
    assert written['rows']['ssl']['mAP'] == summary['rows']['ssl']['mAP']
    assert (work / 'person_search_table.png').stat().st_size > 0
    assert list((work / 'ssl' / 'vis').glob('query_*.png'))
    # A finished row is reused, not retrained.
    again = table.main(['--preset', 'tiny', '--data', tiny_person_search,
                        '--work-dir', str(work), '--iters-scale', '0.002',
                        '--rows', 'ssl'])
    assert again['rows']['ssl'] == summary['rows']['ssl']
    # A row finished before the val split existed gets its val search from
    # its last checkpoint.
    result_path = work / 'ssl' / 'result.json'
    old = {k: v for k, v in json.loads(result_path.read_text()).items()
           if not k.startswith('val_')}
    result_path.write_text(json.dumps(old))
    backfilled = table.main(['--preset', 'tiny', '--data', tiny_person_search,
                             '--work-dir', str(work), '--iters-scale', '0.002',
                             '--rows', 'ssl'])
    assert backfilled['rows']['ssl'] == pytest.approx(summary['rows']['ssl'])

    test_tool = load_tool('test.py')
    config = osp.join(REPO, table.CONFIG.format('ssl'))
    show_dir = tmp_path / 'show'
    options = [f'test_dataloader.dataset.data_root={tiny_person_search}/person_search',
               'visualization_hook.det_score_thr=0.0',
               'test_evaluator.det_score_thr=0.0', 'visualization_hook.max_queries=3',
               *(f'{k}={v}' for k, v in table.TINY_MODEL.items())]
    options = [o.replace(' ', '') for o in options]
    metrics = test_tool.main([config, str(work / 'ssl' / 'iter_4.pth'),
                              '--work-dir', str(tmp_path / 'test'),
                              '--show-dir', str(show_dir), '--cfg-options', *options])
    assert metrics['search/mAP'] == pytest.approx(summary['rows']['ssl']['mAP'])
    strips = sorted(show_dir.glob('query_*.png'))
    assert len(strips) == 3


def test_prw_config_trains_and_searches(tmp_path):
    root = str(tmp_path / 'PRW')
    build_prw(root)
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'ssl_person_search',
                                   'ssl_r50_fpn_prw.py'))
    cfg.merge_from_dict(TINY_MODEL)
    for loader in ('train_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = root
        for transform in cfg[loader].dataset.pipeline:
            if transform.type == 'Resize':
                transform.scale = (64, 48)
    cfg.train_dataloader.batch_size = 1
    cfg.train_cfg.max_epochs = 1  # the paper's epoch-based schedule
    cfg.param_scheduler = cfg.param_scheduler[1:]
    cfg.test_evaluator.det_score_thr = 0.0
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.model.reid_loss.main_memory.filled.sum() == 3  # 3 train persons
    metrics = runner.test()
    assert metrics['search/num_queries'] == 2
    assert 0.0 <= metrics['search/mAP'] <= 1.0


def test_benchmark_refuses_a_build_without_val(tmp_path):
    table = load_tool('benchmarks', 'person_search_table.py')
    root = tmp_path / 'person_search'
    root.mkdir()
    (root / 'meta.json').write_text(json.dumps(
        dict(preset='tiny', seed=0, splits=dict(train=24, test=24))))
    with pytest.raises(SystemExit, match='has no val split'):
        table.prepare_data(str(tmp_path), 'tiny', 0)
