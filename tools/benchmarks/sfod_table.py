"""Source-free domain-adaptive detection on FashionScenes clean -> foggy (WSCoL).

``python tools/benchmarks/sfod_table.py --preset cpu`` builds FashionScenes and
its ``foggy`` variant (unless they exist), then trains with the normal configs
(the MMEngine Runner) and prints the target (foggy/test) AP50 of:

- source-only: ``configs/faster_rcnn/faster-rcnn_r18_fpn_fashionscenes.py``
  trained on the clean train split (or ``--source-checkpoint``), tested on
  foggy/test;
- four adaptations of that source model on the unlabelled foggy/train split
  (``configs/wscol/``): the plain mean teacher, + contrastive, + uncertainty,
  + weak-to-strong guidance (full WSCoL);
- the target oracle
  (``configs/faster_rcnn/faster-rcnn_r18_fpn_fashionscenes-foggy-oracle.py``),
  trained on foggy/train with its hidden labels;

and the fraction of the oracle each row reaches. Model selection uses
foggy/val only (``save_best`` on the val AP50 during training); each row's
selected checkpoint is tested on foggy/test once. Source-only is the last
source checkpoint (its selection could not look at the target).

Writes ``sfod_table.json`` (metrics, configs, options, seed, git commit, wall
times) and ``sfod_table.png`` to ``--work-dir``. Repeating the command reuses finished
runs (their ``result.json``) and resumes interrupted ones from their last
checkpoint. ``--rows 2,5`` runs only those rows (1 source-only, 2-5 the
adaptations in the order above, 6 the oracle); rows neither run now nor
finished before are left out of the table, and a target whose rows are
missing is reported as not measured.

Quick check::

    python tools/benchmarks/sfod_table.py --preset tiny --iters-scale 0.2
"""
import json
import os
import os.path as osp
import sys
import time

from mmengine.runner import Runner

from wsvision.datasets.fashion_scenes import build_fashion_scenes, build_variant
from wsvision.datasets.io import load_json
from wsvision.utils.config import load_config

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from common import (ITERS_SCALE_HELP, REPO, benchmark_parser,  # noqa: E402
                    git_commit, parse_common_args, pyplot, save_figure, scaled,
                    target_lines)

SOURCE_CONFIG = 'configs/faster_rcnn/faster-rcnn_r18_fpn_fashionscenes.py'
ORACLE_CONFIG = 'configs/faster_rcnn/faster-rcnn_r18_fpn_fashionscenes-foggy-oracle.py'
ADAPT_CONFIGS = {
    'mean teacher': 'configs/wscol/mean-teacher_faster-rcnn_r18_fpn_fashionscenes-foggy.py',
    '+ contrastive': 'configs/wscol/wscol-contrast_faster-rcnn_r18_fpn_fashionscenes-foggy.py',
    '+ uncertainty': 'configs/wscol/wscol-uncertainty_faster-rcnn_r18_fpn_fashionscenes-foggy.py',
    '+ weak-to-strong (WSCoL)': 'configs/wscol/wscol_faster-rcnn_r18_fpn_fashionscenes-foggy.py',
}
SOURCE_ONLY, ORACLE, FULL = 'source-only', 'target oracle', '+ weak-to-strong (WSCoL)'
ROWS = (SOURCE_ONLY, *ADAPT_CONFIGS, ORACLE)
METRIC = 'coco/AP50'

#: Per preset: schedule lengths (before --iters-scale) and model overrides.
#: `cpu` uses the configs as they are; `tiny` shrinks the networks for a
#: smoke run; `gpu` trains longer on the larger `gpu` build.
PRESET_SCHEDULES = {
    'tiny': dict(source_iters=60, adapt_iters=30, batch_size=4,
                 detector=dict(backbone=dict(base_channels=8),
                               neck=dict(in_channels=[8, 16, 32, 64])),
                 mapping=dict(conv_channels=16, fc_dim=64, out_dim=32)),
    'cpu': dict(),
    'gpu': dict(source_iters=9600, adapt_iters=5000),
}


def parse_args(argv=None):
    parser = benchmark_parser(
        __doc__.splitlines()[0], 'sfod_table_<preset>', presets=PRESET_SCHEDULES,
        iters_scale_help=ITERS_SCALE_HELP,
        seed_help='seed of the data build and of every training run')
    parser.add_argument('--source-checkpoint',
                        help='a trained source detector of the source config (e.g. the '
                        'published checkpoints/faster-rcnn_r18_fpn_fashionscenes-*.pth '
                        'for the cpu preset) instead of training one')
    parser.add_argument('--rows', default=','.join(map(str, range(1, len(ROWS) + 1))),
                        help='comma-separated row numbers to run: '
                        + ', '.join(f'{i} {name}' for i, name in enumerate(ROWS, 1)))
    args = parse_common_args(parser, argv)
    try:
        args.rows = {int(r) for r in args.rows.split(',')}
    except ValueError:
        parser.error(f'--rows: expected comma-separated integers, got {args.rows!r}')
    if not args.rows <= set(range(1, len(ROWS) + 1)):
        parser.error(f'--rows: row numbers go from 1 to {len(ROWS)}, got {sorted(args.rows)}')
    if args.source_checkpoint and not osp.isfile(args.source_checkpoint):
        parser.error(f'--source-checkpoint: file not found: {args.source_checkpoint}')
    return args


def prepare_data(data: str, preset: str, seed: int) -> None:
    """Build the core FashionScenes splits and the foggy variant if absent."""
    for folder, build in ((data, lambda: build_fashion_scenes(
            data, preset=preset, seed=seed, progress=True)),
                          (osp.join(data, 'foggy'), lambda: build_variant(
            data, 'foggy', preset=preset, seed=seed, progress=True))):
        meta_path = osp.join(folder, 'meta.json')
        if not osp.isfile(meta_path):
            print(f'building {folder} ({preset}, seed {seed})', flush=True)
            build()
        meta = load_json(meta_path)
        if (meta.get('preset'), meta.get('seed')) != (preset, seed):
            raise SystemExit(f'error: {meta_path} is a {meta.get("preset")!r} build '
                             f'with seed {meta.get("seed")}, not {preset!r} / {seed}; '
                             'pass --data for another folder')


def schedule_options(cfg, max_iters: int, scale: float) -> dict:
    """Options that set the run length to ``max_iters * scale`` and stretch
    every iteration count of the config (validation / checkpoint intervals,
    LR schedule, EMA interval) by the same factor."""
    ratio = scaled(max_iters, scale) / cfg.train_cfg.max_iters
    options = {'train_cfg.max_iters': scaled(max_iters, scale),
               'train_cfg.val_interval': scaled(cfg.train_cfg.val_interval, ratio),
               'default_hooks.checkpoint.interval':
                   scaled(cfg.default_hooks.checkpoint.interval, ratio)}
    for i, scheduler in enumerate(cfg.param_scheduler):
        for key in ('begin', 'end'):
            if key in scheduler:
                options[f'param_scheduler.{i}.{key}'] = (
                    0 if scheduler[key] == 0 else scaled(scheduler[key], ratio))
        if 'milestones' in scheduler:
            options[f'param_scheduler.{i}.milestones'] = [
                scaled(m, ratio) for m in scheduler.milestones]
    for i, hook in enumerate(cfg.get('custom_hooks', [])):
        if hook['type'] == 'MeanTeacherHook' and hook.get('interval', 1) > 1:
            options[f'custom_hooks.{i}.interval'] = scaled(hook['interval'], ratio)
    return options


def run_options(config: str, args, data_root: str, max_iters=None, **extra) -> dict:
    """--cfg-options of one run: data, seed, preset overrides and schedule."""
    cfg = load_config(osp.join(REPO, config))
    preset = PRESET_SCHEDULES[args.preset]
    model_prefix = 'model.detector' if cfg.model.type == 'WSCoL' else 'model'
    options = {'randomness.seed': args.seed}
    for split in ('train', 'val', 'test'):
        options[f'{split}_dataloader.dataset.data_root'] = data_root
    for split in ('val', 'test'):
        options[f'{split}_evaluator.0.ann_file'] = f'{data_root}/{split}/instances.json'
    if 'batch_size' in preset:
        options['train_dataloader.batch_size'] = preset['batch_size']
    for part, overrides in preset.get('detector', {}).items():
        for key, value in overrides.items():
            options[f'{model_prefix}.{part}.{key}'] = value
    if cfg.model.type == 'WSCoL':
        for key, value in preset.get('mapping', {}).items():
            options[f'model.wscol.mapping.{key}'] = value
    options.update(schedule_options(cfg, max_iters or cfg.train_cfg.max_iters,
                                    args.iters_scale))
    options.update(extra)
    return options


def train_and_test(name: str, config: str, options: dict, work_dir: str,
                   select_on_val: bool = True) -> dict:
    """Train ``config`` in ``work_dir`` and test its checkpoint (best on val,
    or the last one) once; reuses a finished run's ``result.json``."""
    result_path = osp.join(work_dir, 'result.json')
    if osp.isfile(result_path):
        print(f'{name}: done before, reused', flush=True)
        return load_json(result_path)
    start = time.time()
    cfg = load_config(osp.join(REPO, config), options)
    cfg.work_dir = work_dir
    resumed = osp.isfile(osp.join(work_dir, 'last_checkpoint'))
    if resumed:  # an interrupted run goes on from its last checkpoint
        cfg.resume, cfg.load_from = True, None
    print(f'{name}: training {config}' + (' (resumed)' if resumed else ''), flush=True)
    Runner.from_cfg(cfg).train()
    train_s = time.time() - start
    checkpoint = selected_checkpoint(work_dir, select_on_val)
    result = test_checkpoint(config, options, checkpoint, work_dir)
    result.update(train_wall_s=round(train_s, 1), resumed=resumed, options=options)
    with open(result_path, 'w') as f:
        json.dump(result, f, indent=2)
    return result


def selected_checkpoint(work_dir: str, select_on_val: bool) -> str:
    if select_on_val:
        best = sorted(f for f in os.listdir(work_dir)
                      if f.startswith('best_') and f.endswith('.pth'))
        if best:
            return osp.join(work_dir, best[-1])
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def test_checkpoint(config: str, options: dict, checkpoint: str,
                    work_dir: str) -> dict:
    """Test ``checkpoint`` on the config's test split (foggy/test)."""
    start = time.time()
    cfg = load_config(osp.join(REPO, config), options)
    cfg.work_dir = osp.join(work_dir, 'test')
    cfg.load_from = checkpoint
    metrics = Runner.from_cfg(cfg).test()
    return dict(config=config, checkpoint=checkpoint, metrics=metrics,
                test_wall_s=round(time.time() - start, 1))


def run_benchmark(args) -> dict:
    start = time.time()
    prepare_data(args.data, args.preset, args.seed)
    foggy = osp.join(args.data, 'foggy')
    preset = PRESET_SCHEDULES[args.preset]
    os.makedirs(args.work_dir, exist_ok=True)
    wanted = {ROWS[i - 1] for i in args.rows}
    folders = {name: osp.join(args.work_dir, osp.splitext(osp.basename(config))[0])
               for name, config in ADAPT_CONFIGS.items()}
    folders[ORACLE] = osp.join(args.work_dir, 'oracle')
    # A row runs when asked for; one finished before is always reused.
    todo = {name for name in ROWS if name in wanted or
            osp.isfile(osp.join(folders.get(name, ''), 'result.json'))}
    runs = {}
    source_options = run_options(SOURCE_CONFIG, args, args.data,
                                 preset.get('source_iters'))
    if wanted & ({SOURCE_ONLY} | set(ADAPT_CONFIGS)):
        if args.source_checkpoint:
            source = dict(checkpoint=osp.abspath(args.source_checkpoint), metrics=None)
        else:
            source = train_and_test('source', SOURCE_CONFIG, source_options,
                                    osp.join(args.work_dir, 'source'),
                                    select_on_val=False)
    if SOURCE_ONLY in todo:  # the source checkpoint on the target test split
        target_options = dict(source_options, **{
            'test_dataloader.dataset.data_root': foggy,
            'test_evaluator.0.ann_file': f'{foggy}/test/instances.json'})
        runs[SOURCE_ONLY] = test_checkpoint(SOURCE_CONFIG, target_options,
                                            source['checkpoint'],
                                            osp.join(args.work_dir, 'source-only'))
        runs[SOURCE_ONLY]['clean_test_metrics'] = source['metrics']
    for name, config in ADAPT_CONFIGS.items():
        if name in todo:
            load_from = source['checkpoint'] if name in wanted else None
            options = run_options(config, args, foggy, preset.get('adapt_iters'),
                                  load_from=load_from)
            runs[name] = train_and_test(name, config, options, folders[name])
    if ORACLE in todo:
        runs[ORACLE] = train_and_test(
            ORACLE, ORACLE_CONFIG,
            run_options(ORACLE_CONFIG, args, foggy, preset.get('source_iters')),
            folders[ORACLE])

    oracle_ap50 = runs[ORACLE]['metrics'][METRIC] if ORACLE in runs else None
    rows = [dict(method=name, ap50=100 * run['metrics'][METRIC],
                 oracle_fraction=(run['metrics'][METRIC] / oracle_ap50
                                  if oracle_ap50 else None))
            for name, run in runs.items()]
    ap50 = {row['method']: row['ap50'] for row in rows}

    def target(other, margin):
        if FULL not in ap50 or other not in ap50:
            return None  # not measured
        return ap50[FULL] >= ap50[other] + margin
    targets = {
        'WSCoL >= source-only + 10 AP50': target(SOURCE_ONLY, 10),
        'WSCoL >= mean teacher + 2 AP50': target('mean teacher', 2),
    }
    summary = dict(benchmark='FashionScenes clean -> foggy, source-free',
                   preset=args.preset, iters_scale=args.iters_scale, seed=args.seed,
                   data=args.data, git_commit=git_commit(), metric=f'foggy/test {METRIC}',
                   table=rows, targets=targets, runs=runs,
                   wall_s=round(time.time() - start, 1))
    with open(osp.join(args.work_dir, 'sfod_table.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    plot(rows, osp.join(args.work_dir, 'sfod_table.png'),
         f'FashionScenes clean -> foggy ({args.preset}, x{args.iters_scale:g} iters)')
    return summary


def format_table(summary: dict) -> str:
    lines = [f'{"method":<26} {"foggy test AP50":>15} {"/ oracle":>9}']
    lines += [f'{row["method"]:<26} {row["ap50"]:>15.1f} {fraction(row):>9}'
              for row in summary['table']]
    lines += target_lines(summary['targets'])
    return '\n'.join(lines)


def fraction(row: dict) -> str:
    """The fraction of the oracle, or 'n/a' when the oracle's AP50 is 0."""
    return 'n/a' if row['oracle_fraction'] is None else f'{row["oracle_fraction"]:.2f}'


def plot(rows: list, path: str, title: str) -> None:
    fig, ax = pyplot().subplots(figsize=(8, 4))
    names = [row['method'] for row in rows]
    bars = ax.bar(range(len(rows)), [row['ap50'] for row in rows],
                  color=[{SOURCE_ONLY: 'grey', ORACLE: 'black'}.get(name, 'tab:blue')
                         for name in names])
    for bar, row in zip(bars, rows):
        ax.annotate(fraction(row), (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha='center', va='bottom', fontsize=8)
    ax.set_xticks(range(len(rows)), names, rotation=20, ha='right')
    ax.set_ylabel('foggy test AP50 (label: fraction of oracle)')
    ax.set_title(title)
    save_figure(fig, path, dpi=120)


def main(argv=None):
    args = parse_args(argv)
    summary = run_benchmark(args)
    print(format_table(summary))
    print(f'wall time {summary["wall_s"]:.0f} s; wrote '
          f'{osp.join(args.work_dir, "sfod_table.json")} and sfod_table.png')
    return summary


if __name__ == '__main__':
    main()
