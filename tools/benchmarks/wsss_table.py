"""FashionScenes weakly-supervised segmentation: partial CE against AGMM++.

``python tools/benchmarks/wsss_table.py --preset cpu`` builds FashionScenes and
its weak labels (unless they exist), then trains and tests (test split mIoU),
with the schedule and seed of the fully supervised reference:

- the fully supervised reference
  (``configs/deeplabv3plus/deeplabv3plus_r18_fashionscenes-full.py``);
- for each weak-label type, the partial cross-entropy baseline and AGMM++
  (``configs/agmm/{partial-ce,agmm}_deeplabv3plus_r18_fashionscenes-<type>.py``,
  e.g. ``-scribble``).

It prints ``label type | partial-CE mIoU | AGMM mIoU | AGMM / full ratio`` and
writes ``wsss_table.json`` (every run's config, metrics, seed, wall time, and
the git commit) and ``wsss_table.png`` (bar chart) to ``--out``. Every run
lives in ``<out>/<config name>/``; a finished run (its ``result.json``) is
skipped and an interrupted one resumes from its last checkpoint, so a long
benchmark can be stopped and continued with the same command. ``--methods
agmm`` trains only the AGMM++ runs (the partial-CE cells of runs that do not
exist are printed as ``-``). ``--extras`` trains, where they exist, the
configs that add losses which are not in the paper (``EXTRA_CONFIGS``: the
colour affinity on scribbles, points and tags, the box tightness prior and
the colour affinity on boxes) instead; their runs have their own folders. Below
the table, each label type's target ratio (and, on points, AGMM's margin over
partial CE) is printed as met / NOT met / not measured.

Smoke run::

    python tools/benchmarks/wsss_table.py --preset tiny --types points,boxes \\
        --cfg-options train_cfg.max_iters=4 train_cfg.val_interval=4
"""
import json
import os
import os.path as osp
import sys
import time

from wsvision.datasets.fashion_scenes import build_fashion_scenes, build_mismatch
from wsvision.datasets.io import load_json
from wsvision.utils.config import load_config
from wsvision.weak_labels import (WEAK_LABEL_TYPES, CocoSplitSource, build_weak_labeler,
                                  export_weak_labels)

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from common import (REPO, benchmark_parser, choice_list, git_commit,  # noqa: E402
                    last_checkpoint, parse_cfg_options, parse_common_args, pyplot,
                    run_tool, save_figure, target_lines)

#: Weak-label type (its folder or JSON name) -> the suffix of its config names.
LABEL_TYPES = {'scribbles': 'scribble', 'points': 'point', 'blocks50': 'block50',
               'blocks20': 'block20', 'blocks10': 'block10', 'boxes': 'box', 'tags': 'tag'}
FULL_CONFIG = 'configs/deeplabv3plus/deeplabv3plus_r18_fashionscenes-full.py'
WEAK_CONFIG = 'configs/agmm/{method}_deeplabv3plus_r18_fashionscenes-{suffix}.py'
METHODS = {'partial-ce': 'partial-CE', 'agmm': 'AGMM'}
#: --extras: (method, label type) -> the method part of the config that adds
#: losses which are not in the paper (configs/agmm/_base_/).
EXTRA_CONFIGS = {('agmm', 'scribbles'): 'agmm-affinity', ('agmm', 'points'): 'agmm-affinity',
                 ('agmm', 'boxes'): 'agmm-tightness-affinity', ('agmm', 'tags'): 'agmm-affinity',
                 ('partial-ce', 'scribbles'): 'partial-ce-affinity',
                 ('partial-ce', 'points'): 'partial-ce-affinity'}
#: The issue's targets: AGMM / full mIoU per label type, and AGMM's margin
#: over partial CE on points (in mIoU).
TARGET_RATIOS = {'scribbles': 0.97, 'points': 0.92, 'blocks50': 0.97, 'blocks10': 0.90,
                 'boxes': 0.93, 'tags': 0.80}
POINTS_MARGIN = 0.03


def parse_args(argv=None):
    parser = benchmark_parser(
        __doc__.splitlines()[0], 'wsss_table_<preset>', work_dir_flag='--out',
        seed_help="seed of the data and weak-label build (training uses the configs' seed)",
        cfg_options_help='overrides passed to every training and test run')
    parser.add_argument('--types', default=','.join(LABEL_TYPES),
                        help='comma-separated weak-label types (default: all)')
    parser.add_argument('--methods', default=','.join(METHODS),
                        help='comma-separated methods to train (default: all); '
                             'finished runs of the others are still reported')
    parser.add_argument('--extras', action='store_true',
                        help='train the configs with the losses that are not in the paper '
                             '(colour affinity, box tightness) where they exist')
    args = parse_common_args(parser, argv)
    args.types = choice_list(parser, '--types', args.types, LABEL_TYPES)
    args.methods = choice_list(parser, '--methods', args.methods, METHODS)
    return args


def prepare_data(data: str, preset: str, seed: int, label_types) -> None:
    """Build the FashionScenes splits and the weak labels that are missing."""
    meta_path = osp.join(data, 'meta.json')
    if not osp.isfile(meta_path):
        print(f'building FashionScenes ({preset}) in {data}')
        build_fashion_scenes(data, preset=preset, seed=seed, progress=True)
    reason = build_mismatch(data, preset, seed)
    if reason:
        sys.exit(f'error: {reason}; pass --data for another folder')
    weak_dir = osp.join(data, 'train', 'weak')
    missing = [t for t in label_types if not osp.isfile(osp.join(weak_dir, t, 'meta.json'))]
    if missing:
        print(f'generating weak labels {missing} in {weak_dir}')
        labelers = {name: build_weak_labeler(name) for name in missing}
        export_weak_labels(CocoSplitSource(osp.join(data, 'train')), labelers, weak_dir,
                           seed=seed)


def weak_config(method: str, label_type: str, extras: bool = False) -> str:
    """The config of ``method`` on ``label_type`` (with ``extras``, the one
    in ``EXTRA_CONFIGS`` where there is one)."""
    if extras:
        method = EXTRA_CONFIGS.get((method, label_type), method)
    return WEAK_CONFIG.format(method=method, suffix=LABEL_TYPES[label_type])


def result_path(config: str, out: str) -> str:
    """Where the finished run of ``config`` records its result."""
    return osp.join(out, osp.splitext(osp.basename(config))[0], 'result.json')


def train_and_test(config: str, out: str, options) -> dict:
    """Train ``config`` and test its last checkpoint, or load the finished run."""
    name = osp.splitext(osp.basename(config))[0]
    work_dir = osp.join(out, name)
    result_file = result_path(config, out)
    if osp.isfile(result_file):
        print(f'{name}: done before, skipped')
        return load_json(result_file)
    os.makedirs(work_dir, exist_ok=True)
    cfg = load_config(osp.join(REPO, config), parse_cfg_options(options))
    resume = ['--resume'] if last_checkpoint(work_dir) else []
    print(f'{name}: training' + (' (resumed)' if resume else ''), flush=True)
    train_s = run_tool([sys.executable, osp.join(REPO, 'tools', 'train.py'), config,
                        '--work-dir', work_dir, *resume, '--cfg-options', *options],
                       osp.join(work_dir, 'train.log'))
    checkpoint = last_checkpoint(work_dir)
    if checkpoint is None:
        raise RuntimeError(f'{name}: training wrote no checkpoint in {work_dir}')
    metrics_path = osp.join(work_dir, 'test_metrics.json')
    test_s = run_tool([sys.executable, osp.join(REPO, 'tools', 'test.py'), config, checkpoint,
                       '--work-dir', osp.join(work_dir, 'test'), '--out', metrics_path,
                       '--cfg-options', *options], osp.join(work_dir, 'test.log'))
    result = dict(config=config, checkpoint=osp.relpath(checkpoint, out),
                  seed=cfg.randomness.get('seed'), max_iters=cfg.train_cfg.get('max_iters'),
                  metrics=load_json(metrics_path), train_wall_s=round(train_s, 1),
                  test_wall_s=round(test_s, 1), resumed=bool(resume))
    with open(result_file, 'w') as f:
        json.dump(result, f, indent=2)
    print(f'{name}: mIoU {result["metrics"]["mIoU"]:.4f} (train {train_s:.0f} s)', flush=True)
    return result


def table_rows(results: dict, label_types) -> list:
    """One row per label type; a run that was not measured is None."""
    full = results['full']['metrics']['mIoU']
    rows = []
    for label_type in label_types:
        pce, agmm = (results[f'{method}-{label_type}']['metrics']['mIoU']
                     if f'{method}-{label_type}' in results else None
                     for method in METHODS)
        rows.append(dict(label_type=label_type, partial_ce_miou=pce, agmm_miou=agmm,
                         agmm_full_ratio=None if agmm is None else
                         agmm / full if full else float('nan')))
    return rows


def targets(rows: list) -> dict:
    """{target text: met (bool) or None when not measured}."""
    by_type = {row['label_type']: row for row in rows}
    met = {}
    for label_type, ratio in TARGET_RATIOS.items():
        row = by_type.get(label_type, {})
        value = row.get('agmm_full_ratio')
        text = f'{label_type}: AGMM / full >= {ratio:.2f}'
        met[text + (f' (measured {value:.3f})' if value is not None else '')] = \
            None if value is None else bool(value >= ratio)
    points = by_type.get('points', {})
    text = f'points: AGMM >= partial CE + {POINTS_MARGIN:.2f} mIoU'
    if points.get('agmm_miou') is None or points.get('partial_ce_miou') is None:
        met[text] = None
    else:
        margin = points['agmm_miou'] - points['partial_ce_miou']
        met[f'{text} (measured {margin:+.4f})'] = bool(margin >= POINTS_MARGIN)
    return met


def _cell(value, digits: int) -> str:
    return '-' if value is None else f'{value:.{digits}f}'


def format_table(rows: list, full_miou: float) -> str:
    header = ('label type', 'partial-CE mIoU', 'AGMM mIoU', 'AGMM / full ratio')
    lines = [header] + [(row['label_type'], _cell(row['partial_ce_miou'], 4),
                         _cell(row['agmm_miou'], 4), _cell(row['agmm_full_ratio'], 3))
                        for row in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = [' | '.join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip()
            for line in lines]
    text.insert(1, '-+-'.join('-' * width for width in widths))
    text.append(f'full supervision mIoU: {full_miou:.4f}')
    text.extend(target_lines(targets(rows)))
    return '\n'.join(text)


def plot(rows: list, full_miou: float, path: str) -> None:
    import numpy as np
    plt = pyplot()
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(1.4 * len(rows) + 2, 4))
    for offset, key, label in ((-0.2, 'partial_ce_miou', 'partial CE'),
                               (0.2, 'agmm_miou', 'AGMM++')):
        ax.bar(x + offset, [row[key] or 0 for row in rows], 0.4, label=label)
    ax.axhline(full_miou, color='k', linestyle='--', label='full supervision')
    ax.set_xticks(x, [row['label_type'] for row in rows])
    ax.set_ylabel('test mIoU')
    ax.set_title('FashionScenes: weak-label types')
    ax.legend(loc='lower left')
    save_figure(fig, path, dpi=120)


def main(argv=None):
    args = parse_args(argv)
    start = time.time()
    prepare_data(args.data, args.preset, args.seed, args.types)
    options = [f'{split}_dataloader.dataset.data_root={args.data}'
               for split in ('train', 'val', 'test')] + list(args.cfg_options)
    runs = [('full', None, FULL_CONFIG)] + [
        (f'{method}-{label_type}', method, weak_config(method, label_type, args.extras))
        for label_type in args.types for method in METHODS]
    results, failures = {}, []
    for key, method, config in runs:
        if (method is not None and method not in args.methods
                and not osp.isfile(result_path(config, args.out))):
            continue  # not asked for and never measured: a '-' cell
        try:
            results[key] = train_and_test(config, args.out, options)
        except RuntimeError as e:
            failures.append(str(e))
            print(f'error: {e}', file=sys.stderr)
    if failures:
        sys.exit(f'{len(failures)} run(s) failed; rerun the same command to retry them')

    full_miou = results['full']['metrics']['mIoU']
    rows = table_rows(results, args.types)
    print(format_table(rows, full_miou))
    if args.extras:
        print('--extras: ' + ', '.join(
            osp.splitext(osp.basename(weak_config(method, label_type, True)))[0]
            for method, label_type in EXTRA_CONFIGS if f'{method}-{label_type}' in results))
    summary = dict(preset=args.preset, data=args.data, data_seed=args.seed,
                   git_commit=git_commit(), cfg_options=list(args.cfg_options),
                   extras=args.extras,
                   full_miou=full_miou, table=rows, runs=results,
                   targets=targets(rows),
                   wall_s=round(time.time() - start, 1),
                   weak_label_types={t: WEAK_LABEL_TYPES[t] for t in args.types})
    with open(osp.join(args.out, 'wsss_table.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    plot(rows, full_miou, osp.join(args.out, 'wsss_table.png'))
    print(f'written {osp.join(args.out, "wsss_table.json")} and wsss_table.png')


if __name__ == '__main__':
    main()
