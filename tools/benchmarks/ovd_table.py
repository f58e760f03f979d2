"""FashionScenes open-vocabulary detection: the MarvelOVD ablation.

``python tools/benchmarks/ovd_table.py --preset cpu`` runs, on FashionScenes
``ovd`` (split 1 novel classes: shirt, sandal, bag):

1. builds FashionScenes and its ``ovd`` variant (unless present);
2. trains the offline mini-VLM (``tools/train_vlm.py``; Fashion-MNIST train
   images only) unless ``--vlm-checkpoint`` is given, and records its
   zero-shot accuracy on Fashion-MNIST test;
3. trains the class-agnostic proposal network on base boxes and writes the
   VLM pseudo-labels (``tools/data/make_ovd_pseudo_labels.py``; proposals
   under ``MIN_OBJECTNESS`` are left out, see there);
4. trains and tests (test split) each row through ``tools/train.py`` /
   ``tools/test.py``:

   1. naive VLM PLs (VL-PLM style)  ``...-ovd-naive-pl.py``
   2. + stratified assignment        ``...-ovd-stratified.py``
   3. + online mining                ``...-ovd-mining.py``
   4. + reweighting (full MarvelOVD) ``...-ovd.py``
   5. oracle trained with novel boxes ``...-ovd-oracle.py``

It prints novel / base / all AP50 per row and writes ``ovd_table.json``
(metrics, configs, seed, git commit, wall times, PL and VLM quality) and
``ovd_table.png`` into ``--work-dir``. Finished steps are skipped when the
command is run again. ``--iters-scale`` multiplies every schedule.

Smoke run::

    python tools/benchmarks/ovd_table.py --preset tiny --iters-scale 0.002
"""
import json
import os
import os.path as osp
import sys
import time

import torch

from wsvision.datasets.fashion_scenes import build_fashion_scenes, build_variant
from wsvision.datasets.io import load_json
from wsvision.utils.config import load_config

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from common import (ITERS_SCALE_HELP, REPO, benchmark_parser,  # noqa: E402
                    check_common_args, git_commit, last_checkpoint,
                    parse_cfg_options, pyplot, resolve_common_paths, run_tool,
                    save_figure, scaled, target_lines)

CONFIG = 'configs/marvel_ovd/marvel-ovd_r18_fpn_fashionscenes-ovd{}.py'
ROWS = (('naive VLM PLs (VL-PLM)', '-naive-pl'),
        ('+ stratified assignment', '-stratified'),
        ('+ online mining', '-mining'),
        ('+ reweighting (MarvelOVD)', ''),
        ('oracle (novel boxes)', '-oracle'))
PROPOSAL_CONFIG = 'configs/marvel_ovd/proposal-net_r18_fpn_fashionscenes-ovd.py'
#: mini-VLM training iterations at --iters-scale 1.
VLM_ITERS = 800
#: Proposals scoring below this (class-agnostic score) get no pseudo-label.
#: The paper keeps the top 100 boxes of crowded COCO images; FashionScenes
#: holds 1-3 items per image, and on a 400-iteration proposal network the
#: top 100 gave PLs of 2.9% precision (88.7% recall) against 13.3% (73.5%)
#: with this threshold.
MIN_OBJECTNESS = 0.5
#: Fashion-MNIST train / test images the mini-VLM trains / is scored on.
VLM_IMAGES = dict(tiny=(2000, 1000), cpu=(20000, 10000), gpu=(60000, 10000))


def parse_args(argv=None):
    parser = benchmark_parser(__doc__.splitlines()[0], 'ovd_table_<preset>',
                              iters_scale_help=ITERS_SCALE_HELP)
    parser.add_argument('--vlm-checkpoint', help='a trained mini-VLM (skips '
                        'tools/train_vlm.py)')
    parser.add_argument('--rows', default='1,2,3,4,5',
                        help='comma-separated row numbers to run')
    args = parser.parse_args(argv)
    if args.data:  # a relative --data is read from the repository root
        args.data = osp.join(REPO, args.data)
    check_common_args(parser, args)
    return resolve_common_paths(args, 'ovd_table_<preset>')


def schedule_options(config: str, scale: float) -> list:
    """``--cfg-options`` scaling the config's iterations, warm-up,
    milestones, validation / checkpoint intervals (and burn-in)."""
    cfg = load_config(osp.join(REPO, config))
    max_iters = scaled(cfg.train_cfg.max_iters, scale, 2)
    warmup, steps = cfg.param_scheduler
    milestones = [min(scaled(m, scale), max_iters - 1)
                  for m in steps['milestones']]
    options = [f'train_cfg.max_iters={max_iters}',
               # LinearLR leaves its start factor in place when end=1.
               f'param_scheduler.0.end={min(scaled(warmup["end"], scale, 2), max_iters)}',
               f'param_scheduler.1.milestones={milestones}',
               f'default_hooks.checkpoint.interval={max_iters}',
               'default_hooks.logger.interval='
               f'{min(cfg.default_hooks.logger.interval, max_iters)}']
    if cfg.get('val_cfg'):
        options.append(f'train_cfg.val_interval={max_iters}')
    if 'burn_in_iters' in cfg.model:
        options.append('model.burn_in_iters='
                       f'{scaled(cfg.model.burn_in_iters, scale, 0)}')
    return options


def data_options(data: str) -> list:
    options = [f'{split}_dataloader.dataset.data_root={data}'
               for split in ('train', 'val', 'test')]
    return options + [f'val_evaluator.0.ann_file={data}/val/instances.json',
                      f'test_evaluator.0.ann_file={data}/test/instances.json']


def prepare_vlm(args, work_dir: str) -> tuple:
    if args.vlm_checkpoint:
        summary = osp.splitext(args.vlm_checkpoint)[0] + '.json'
        return args.vlm_checkpoint, (load_json(summary)
                                     if osp.isfile(summary) else {})
    checkpoint = osp.join(work_dir, 'vlm', 'mini_vlm.pth')
    summary = osp.join(work_dir, 'vlm', 'mini_vlm.json')
    if not osp.isfile(summary):
        os.makedirs(osp.dirname(checkpoint), exist_ok=True)
        print('mini-VLM: training', flush=True)
        run_tool([sys.executable, osp.join(REPO, 'tools', 'train_vlm.py'),
                  '--out', checkpoint, '--iters',
                  str(scaled(VLM_ITERS, args.iters_scale)),
                  '--num-train', str(VLM_IMAGES[args.preset][0]),
                  '--num-test', str(VLM_IMAGES[args.preset][1]), '--seed',
                  str(args.seed), '--threads', str(torch.get_num_threads())],
                 osp.join(work_dir, 'vlm', 'train.log'))
    return checkpoint, load_json(summary)


def prepare_pseudo_labels(args, data: str, vlm_checkpoint: str,
                          work_dir: str) -> tuple:
    out = osp.abspath(osp.join(work_dir, 'pseudo_labels',
                               'instances_train_pl.json'))
    quality = osp.splitext(out)[0] + '_quality.json'
    if not osp.isfile(quality):
        os.makedirs(osp.dirname(out), exist_ok=True)
        print('pseudo-labels: proposal network and VLM scoring', flush=True)
        options = (schedule_options(PROPOSAL_CONFIG, args.iters_scale)
                   + [f'test_dataloader.dataset.data_root={data}',
                      f'randomness.seed={args.seed}'])
        run_tool([sys.executable, osp.join(REPO, 'tools', 'data',
                                           'make_ovd_pseudo_labels.py'),
                  '--data-root', data, '--out', out,
                  '--min-objectness', str(MIN_OBJECTNESS),
                  '--vlm', osp.join(REPO, 'configs', 'vlm', 'mini_vlm.py'),
                  '--vlm-options', f'vlm.checkpoint={vlm_checkpoint}',
                  '--work-dir', osp.join(work_dir, 'pseudo_labels'),
                  '--cfg-options', *options],
                 osp.join(work_dir, 'pseudo_labels', 'make.log'))
    return out, load_json(quality)


def train_and_test(config: str, out: str, options: list) -> dict:
    """The result of ``config`` (trained and tested now unless a finished run
    left ``result.json`` in ``<out>/<config name>``)."""
    work_dir = osp.join(out, osp.splitext(osp.basename(config))[0])
    result_path = osp.join(work_dir, 'result.json')
    if not osp.isfile(result_path):
        os.makedirs(work_dir, exist_ok=True)
        result = run_row(config, work_dir, options)
        with open(result_path, 'w') as f:
            json.dump(result, f, indent=2)
    return load_json(result_path)


def run_row(config: str, work_dir: str, options: list) -> dict:
    """Train ``config`` (resuming an interrupted run), test its last
    checkpoint on the test split."""
    resume = ['--resume'] if last_checkpoint(work_dir) else []
    print(f'{config}: training' + (' (resumed)' if resume else ''), flush=True)
    tool = [sys.executable, osp.join(REPO, 'tools', '{}.py')]
    train_s = run_tool([tool[0], tool[1].format('train'), config,
                        '--work-dir', work_dir, *resume,
                        '--cfg-options', *options],
                       osp.join(work_dir, 'train.log'))
    metrics_path = osp.join(work_dir, 'test_metrics.json')
    test_s = run_tool([tool[0], tool[1].format('test'), config,
                       last_checkpoint(work_dir), '--out', metrics_path,
                       '--work-dir', osp.join(work_dir, 'test'),
                       '--cfg-options', *options],
                      osp.join(work_dir, 'test.log'))
    cfg = load_config(osp.join(REPO, config), parse_cfg_options(options))
    pl_quality = osp.join(work_dir, 'pl_quality.json')
    return dict(config=config, seed=cfg.randomness.get('seed'),
                max_iters=cfg.train_cfg.max_iters,
                metrics=load_json(metrics_path),
                pl_quality=(load_json(pl_quality)['total']
                            if osp.isfile(pl_quality) else None),
                train_wall_s=round(train_s, 1), test_wall_s=round(test_s, 1))


def ap50_summary(metrics: dict, names, novel) -> dict:
    """Novel / base / all AP50 (means of the per-class COCO AP50; classes
    without test boxes, AP50 -1, are left out)."""
    def mean(group):
        values = [metrics[f'coco/AP50_{n.replace("/", "_")}'] for n in group]
        values = [v for v in values if v >= 0]
        return sum(values) / len(values) if values else float('nan')
    base = [n for n in names if n not in novel]
    return dict(novel_ap50=mean(novel), base_ap50=mean(base),
                all_ap50=mean(names))


def format_table(rows: list) -> str:
    lines = [f'{"row":<32}{"novel AP50":>11}{"base AP50":>11}{"all AP50":>10}']
    for row in rows:
        lines.append(f'{row["name"]:<32}{100 * row["novel_ap50"]:>11.1f}'
                     f'{100 * row["base_ap50"]:>11.1f}'
                     f'{100 * row["all_ap50"]:>10.1f}')
    return '\n'.join(lines)


#: The issue's targets on novel AP50: full MarvelOVD (row 4) >= 0.75 x the
#: oracle (row 5) and >= naive PLs (row 1) + 5 points; no component
#: (rows 2-4, each adding one to the row before) lowers it.
TARGET_RATIO, TARGET_GAIN = 0.75, 0.05


def check_targets(rows: list) -> dict:
    """Each target: True / False, or None when its rows were not run."""
    novel = {row['row']: row['novel_ap50'] for row in rows}

    def measured(*numbers):
        return all(n in novel for n in numbers)
    return {
        'MarvelOVD novel AP50 >= 0.75 x oracle':
            novel[4] >= TARGET_RATIO * novel[5] if measured(4, 5) else None,
        'MarvelOVD novel AP50 >= naive PLs + 5':
            novel[4] >= novel[1] + TARGET_GAIN if measured(1, 4) else None,
        'no component lowers novel AP50':
            all(novel[n] >= novel[n - 1] for n in (2, 3, 4))
            if measured(1, 2, 3, 4) else None,
    }


def plot(rows: list, path: str) -> None:
    fig, ax = pyplot().subplots(figsize=(9, 4))
    width = 0.27
    for k, key in enumerate(('novel_ap50', 'base_ap50', 'all_ap50')):
        ax.bar([i + (k - 1) * width for i in range(len(rows))],
               [100 * r[key] for r in rows], width,
               label=key.replace('_ap50', ''))
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([r['name'] for r in rows], rotation=15, fontsize=8)
    ax.set_ylabel('AP50 (test)')
    ax.set_title('FashionScenes ovd (split 1): MarvelOVD ablation')
    ax.legend()
    save_figure(fig, path)


def main(argv=None) -> dict:
    args = parse_args(argv)
    start = time.time()
    data, work_dir = args.data, args.work_dir
    os.makedirs(work_dir, exist_ok=True)
    if not osp.isfile(osp.join(data, 'meta.json')):
        build_fashion_scenes(data, preset=args.preset, seed=args.seed)
    if not osp.isfile(osp.join(data, 'ovd', 'classes.json')):
        build_variant(data, 'ovd', preset=args.preset, seed=args.seed)
    classes = load_json(osp.join(data, 'ovd', 'classes.json'))

    vlm_checkpoint, vlm_summary = prepare_vlm(args, work_dir)
    pl_file, pl_quality = prepare_pseudo_labels(args, data, vlm_checkpoint,
                                                work_dir)
    print(f'pseudo-labels: {pl_quality["num_pseudo_labels"]}, precision '
          f'{pl_quality["precision"]:.3f}, recall {pl_quality["recall"]:.3f}',
          flush=True)
    wanted = {int(r) for r in args.rows.split(',')}
    rows = []
    for number, (name, suffix) in enumerate(ROWS, 1):
        if number not in wanted:
            continue
        config = CONFIG.format(suffix)
        options = (schedule_options(config, args.iters_scale)
                   + data_options(data)
                   + [f'model.roi_head.classifier.vlm.checkpoint={vlm_checkpoint}',
                      f'randomness.seed={args.seed}'])
        if suffix != '-oracle':
            options.append(f'train_dataloader.dataset.ann_file={pl_file}')
        result = train_and_test(config, work_dir, options)
        summary = ap50_summary(result['metrics'],
                               classes['base_classes'] + classes['novel_classes'],
                               classes['novel_classes'])
        rows.append(dict(row=number, name=name, **summary, **result))
        print(f'{name}: novel AP50 {100 * summary["novel_ap50"]:.1f}', flush=True)

    table = format_table(rows)
    print(table)
    targets = check_targets(rows)
    print('\n'.join(target_lines(targets)))
    report = dict(preset=args.preset, iters_scale=args.iters_scale,
                  seed=args.seed, data=data, git_commit=git_commit(),
                  device='cuda' if torch.cuda.is_available() else 'cpu',
                  vlm=dict(checkpoint=vlm_checkpoint, **vlm_summary),
                  pseudo_labels=dict(file=pl_file, **pl_quality),
                  rows=rows, targets=targets,
                  wall_s=round(time.time() - start, 1))
    with open(osp.join(work_dir, 'ovd_table.json'), 'w') as f:
        json.dump(report, f, indent=2)
    plot(rows, osp.join(work_dir, 'ovd_table.png'))
    print(f'wrote {osp.join(work_dir, "ovd_table.json")} and ovd_table.png')
    return report


if __name__ == '__main__':
    main()
