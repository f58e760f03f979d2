"""Few-shot detection on FashionScenes: fine-tuned vs PS-TTL test-time learning.

``python tools/benchmarks/fsod_table.py --preset cpu --split 1`` builds
FashionScenes and its ``fewshot`` variant (unless they exist), then, with the
normal configs and tools (``tools/train.py``, ``tools/test.py``):

1. trains the DeFRCN-style detector on the base classes
   (``configs/ps_ttl/defrcn_r18_fpn_fashionscenes-fewshot-split1-base.py``);
2. for each K in 1/2/3/5/10 fine-tunes it on base + K-shot novel
   (``...-split1-<K>shot.py``, the K-shot sample of ``--shot-seed``, 0 by
   default);
3. runs PS-TTL on the test stream from that fine-tuned model
   (``configs/ps_ttl/ps-ttl_...-split1-<K>shot.py``), which evaluates before
   (= the fine-tuned model) and after test-time learning, and once more
   without the prototype soft labels (``model.soft_label_weight=0``).

It prints ``K | nAP50 fine-tuned | nAP50 after TTL | nAP50 after TTL without
soft labels`` (plus bAP50 and AP) and writes ``fsod_table.json`` (metrics,
pseudo-label quality, options, seed, git commit, wall times) and
``fsod_table.png`` to ``--work-dir``. Splits 2 and 3 reuse the split-1
configs with their class lists and annotation files. A finished run (its
``result.json``) is reused when the command is repeated.

The builder writes several K-shot samples (``fewshot/seed<N>``, as in TFA's
protocol). ``--shot-seed N`` fine-tunes on sample N: it reuses the base model
of the same work dir, and its runs and outputs end in ``_seed<N>``. Several
samples (``--shot-seed 0 1 2 3 4``) run one after the other on one base
model, and then the table of their mean ± standard deviation, with how many
samples TTL beats fine-tuning and the soft labels beat plain TTL on, goes to
``fsod_table_samples.json`` and ``.png``: one sample's K-shot set moves
nAP50 by several points, more than TTL does.

Quick check::

    python tools/benchmarks/fsod_table.py --preset tiny --iters-scale 0.05
"""
import json
import math
import os
import os.path as osp
import sys
import time

import numpy as np

from wsvision.datasets.fashion_scenes import build_variant
from wsvision.datasets.io import load_json
from wsvision.utils.config import load_config

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from common import (REPO, benchmark_parser, git_commit, last_checkpoint,  # noqa: E402
                    parse_cfg_options, parse_common_args, pyplot, run_tool,
                    save_figure, scaled)

DETECTOR = 'configs/ps_ttl/defrcn_r18_fpn_fashionscenes-fewshot-split1'
BASE_CONFIG = f'{DETECTOR}-base.py'
FINETUNE_CONFIG = DETECTOR + '-{k}shot.py'
TTL_CONFIG = 'configs/ps_ttl/ps-ttl_' + DETECTOR.split('/')[-1] + '-{k}shot.py'
SHOTS = (1, 2, 3, 5, 10)
#: Schedule multiplier per preset (before --iters-scale).
PRESET_SCALE = {'tiny': 1.0, 'cpu': 1.0, 'gpu': 2.0}
ROWS = (('finetuned', 'fine-tuned'), ('ttl', 'after TTL'),
        ('ttl_no_soft', 'TTL w/o soft labels'))


def parse_args(argv=None):
    parser = benchmark_parser(
        __doc__.splitlines()[0], 'fsod_table_<preset>_split<split>',
        iters_scale_help='multiplies every schedule length (and caps the '
        'TTL pass when below 1)', seed_help='seed of the data build',
        cfg_options_help='overrides passed to every run')
    parser.add_argument('--split', type=int, default=1, choices=(1, 2, 3),
                        help='base / novel class split')
    parser.add_argument('--shot-seed', type=int, nargs='+', default=[0],
                        help='which K-shot samples (fewshot/seed<N>) to '
                        'fine-tune on, one run each; with several, also '
                        'their mean and spread')
    parser.add_argument('--shots', help='comma-separated K (default: those '
                        'of 1,2,3,5,10 that the build has)')
    args = parse_common_args(parser, argv)
    args.shot_seed = list(dict.fromkeys(args.shot_seed))  # each sample once
    if args.shots is not None:
        args.shots = [int(k) for k in args.shots.split(',') if k.strip()]
    return args


def prepare_data(data: str, preset: str, seed: int) -> dict:
    """Build the core FashionScenes and its fewshot variant if absent;
    returns ``fewshot/splits.json``."""
    splits_path = osp.join(data, 'fewshot', 'splits.json')
    if not osp.isfile(splits_path):
        print(f'building FashionScenes fewshot ({preset}) in {data}', flush=True)
        build_variant(data, 'fewshot', preset=preset, seed=seed, progress=True)
    return load_json(splits_path)


def data_options(data: str) -> list:
    """Data roots and evaluation files shared by every run."""
    return [f'test_dataloader.dataset.data_root={data}',
            f'test_evaluator.ann_file={data}/test/instances.json']


def split_config(config: str, split: int, novel_classes: list, out: str) -> str:
    """``config`` itself for split 1; for another split a config in
    ``out/configs`` that inherits it and names that split's novel classes
    (class names hold spaces, which ``--cfg-options`` cannot carry)."""
    if split == 1:
        return config
    path = osp.join(out, 'configs', osp.basename(config).replace(
        'split1', f'split{split}'))
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(f'_base_ = [{osp.join(REPO, config)!r}]\n'
                f'test_evaluator = dict(novel_classes={list(novel_classes)!r})\n')
    return path


def train_options(data: str, config: str, ann_file: str, scale: float) -> list:
    """Options of a training run: data, scaled schedule, no validation."""
    cfg = load_config(osp.join(REPO, config))
    max_iters = scaled(cfg.train_cfg.max_iters, scale)
    options = [f'train_dataloader.dataset.data_root={data}',
               f'train_dataloader.dataset.ann_file={ann_file}',
               f'train_cfg.max_iters={max_iters}',
               f'train_cfg.val_interval={max_iters}',
               'val_cfg=None', 'val_dataloader=None', 'val_evaluator=None']
    for i, scheduler in enumerate(cfg.param_scheduler):
        if 'end' in scheduler:
            options.append(f'param_scheduler.{i}.end='
                           f'{min(scaled(scheduler.end, scale), max_iters)}')
        if 'milestones' in scheduler:
            milestones = [scaled(m, scale) for m in scheduler.milestones]
            options.append(f'param_scheduler.{i}.milestones={milestones}'
                           .replace(' ', ''))
    return options


def train(name: str, config: str, options: list, out: str) -> str:
    """Train ``config`` into ``out/name`` (resuming); returns its last
    checkpoint."""
    work_dir = osp.join(out, name)
    done = osp.join(work_dir, 'result.json')
    if osp.isfile(done):
        print(f'{name}: trained before, skipped', flush=True)
        return osp.join(out, load_json(done)['checkpoint'])
    os.makedirs(work_dir, exist_ok=True)
    resume = ['--resume'] if last_checkpoint(work_dir) else []
    print(f'{name}: training', flush=True)
    wall = run_tool([sys.executable, osp.join(REPO, 'tools', 'train.py'),
                     config, '--work-dir', work_dir, *resume,
                     '--cfg-options', *options], osp.join(work_dir, 'train.log'))
    checkpoint = last_checkpoint(work_dir)
    if checkpoint is None:
        raise RuntimeError(f'{name}: training wrote no checkpoint in {work_dir}')
    with open(done, 'w') as f:
        json.dump(dict(config=config, options=options, wall_s=round(wall, 1),
                       checkpoint=osp.relpath(checkpoint, out)), f, indent=2)
    return checkpoint


def test_time_learning(name: str, config: str, checkpoint: str, options: list,
                       out: str) -> dict:
    """Run PS-TTL (``tools/test.py``) into ``out/name``; returns its record."""
    work_dir = osp.join(out, name)
    done = osp.join(work_dir, 'result.json')
    if osp.isfile(done):
        print(f'{name}: done before, skipped', flush=True)
        return load_json(done)
    os.makedirs(work_dir, exist_ok=True)
    print(f'{name}: test-time learning', flush=True)
    metrics_path = osp.join(work_dir, 'metrics.json')
    wall = run_tool([sys.executable, osp.join(REPO, 'tools', 'test.py'),
                     config, checkpoint, '--work-dir', work_dir, '--out',
                     metrics_path, '--cfg-options', *options],
                    osp.join(work_dir, 'test.log'))
    record = dict(config=config, options=options, wall_s=round(wall, 1),
                  checkpoint=osp.relpath(checkpoint, out),
                  metrics=load_json(metrics_path))
    with open(done, 'w') as f:
        json.dump(record, f, indent=2)
    return record


def ttl_options(data: str, k_ann: str, stream_len: int, batch_size: int,
                scale: float) -> list:
    options = [f'test_cfg.stream_dataloader.dataset.data_root={data}',
               f'test_cfg.shot_dataloader.dataset.data_root={data}',
               f'test_cfg.shot_dataloader.dataset.ann_file={k_ann}']
    if scale < 1:
        passes = math.ceil(stream_len / batch_size)
        options.append(f'test_cfg.max_iters={scaled(passes, scale)}')
    return options


def row_metrics(records: dict) -> dict:
    """{row key: {nAP50, bAP50, AP}} of one K."""
    ttl = records['ttl']['metrics']
    no_soft = records['ttl_no_soft']['metrics']
    pick = lambda m, prefix='': {key: m[f'{prefix}coco/{key}']  # noqa: E731
                                 for key in ('nAP50', 'bAP50', 'AP')}
    return dict(finetuned=pick(ttl, 'before_ttl/'), ttl=pick(ttl),
                ttl_no_soft=pick(no_soft))


def format_table(table: dict) -> str:
    header = ('K  | nAP50 fine-tuned | nAP50 after TTL | nAP50 TTL w/o soft '
              '| bAP50 FT / TTL | AP FT / TTL')
    lines = [header, '-' * len(header)]
    for k, rows in table.items():
        ft, ttl, no_soft = (rows[key] for key, _ in ROWS)
        lines.append(
            f'{k:<3}| {100 * ft["nAP50"]:16.1f} | {100 * ttl["nAP50"]:15.1f} | '
            f'{100 * no_soft["nAP50"]:18.1f} | {100 * ft["bAP50"]:5.1f} / '
            f'{100 * ttl["bAP50"]:5.1f}  | {100 * ft["AP"]:4.1f} / '
            f'{100 * ttl["AP"]:4.1f}')
    return '\n'.join(lines)


def format_summary(table: dict, wins: dict, num_samples: int) -> str:
    header = ('K  | nAP50 fine-tuned | nAP50 after TTL | nAP50 TTL w/o soft '
              '| TTL > FT | soft > w/o soft')
    lines = [header, '-' * len(header)]
    for k, rows in table.items():
        cells = [f'{100 * rows[key]["nAP50"]["mean"]:5.1f} ± '
                 f'{100 * rows[key]["nAP50"]["std"]:3.1f}' for key, _ in ROWS]
        lines.append(f'{k:<3}| {cells[0]:>16} | {cells[1]:>15} | {cells[2]:>18} | '
                     f'{wins[k]["ttl_over_finetuned"]:>3} of {num_samples:<2} | '
                     f'{wins[k]["soft_over_no_soft"]:>3} of {num_samples}')
    return '\n'.join(lines)


def plot(table: dict, path: str, title: str, errors: dict = None) -> None:
    """Bars of nAP50 per K and row; ``errors`` ({K: {row: std}}) adds
    error bars."""
    shots = list(table)
    fig, ax = pyplot().subplots(figsize=(6.5, 4))
    width = 0.8 / len(ROWS)
    for i, (key, label) in enumerate(ROWS):
        ax.bar([j + (i - 1) * width for j in range(len(shots))],
               [100 * table[k][key]['nAP50'] for k in shots], width,
               yerr=None if errors is None else [100 * errors[k][key] for k in shots],
               capsize=3, label=label)
    ax.set_xticks(range(len(shots)), [f'K={k}' for k in shots])
    ax.set_ylabel('nAP50 (%)')
    ax.set_ylim(bottom=0)
    ax.set_title(title)
    ax.legend()
    save_figure(fig, path)


def main(argv=None):
    args = parse_args(argv)
    start = time.time()
    info = prepare_data(args.data, args.preset, args.seed)
    split_info = info['splits'][str(args.split)]
    if args.shots is None:
        args.shots = [k for k in SHOTS if k in info['shots']]
    missing = sorted(set(args.shots) - set(info['shots']))
    if missing:
        sys.exit(f'error: the {args.preset} build has no K={missing} shots '
                 f'(it has {info["shots"]}); pass --shots')
    unknown = [seed for seed in args.shot_seed if seed not in info['seeds']]
    if unknown:
        sys.exit(f'error: the {args.preset} build has no K-shot sample of seed '
                 f'{unknown[0]} (it has {info["seeds"]}); pass --shot-seed')
    scale = args.iters_scale * PRESET_SCALE[args.preset]
    common = data_options(args.data) + args.cfg_options
    parse_cfg_options(common)  # fail early on a malformed option
    out = args.work_dir
    os.makedirs(out, exist_ok=True)

    novel = split_info['novel_classes']
    base_ckpt = train('base', split_config(BASE_CONFIG, args.split, novel, out),
                      common + train_options(
                          args.data, BASE_CONFIG,
                          f'fewshot/split{args.split}_base_train.json', scale),
                      out)
    results = [run_sample(args, shot_seed, split_info, base_ckpt, common, scale, start)
               for shot_seed in args.shot_seed]
    if len(results) == 1:
        return results[0]
    return summarise(args, results, novel)


def run_sample(args, shot_seed: int, split_info: dict, base_ckpt: str,
               common: list, scale: float, start: float) -> dict:
    """Fine-tune on K-shot sample ``shot_seed`` for every K, run PS-TTL with
    and without soft labels, and write its table."""
    shot_dir = f'fewshot/seed{shot_seed}'
    tag = f'_seed{shot_seed}' if shot_seed else ''
    out, novel = args.work_dir, split_info['novel_classes']
    stream_len = len(load_json(osp.join(args.data, 'test', 'instances.json'))
                     ['images'])
    ttl_cfg = load_config(osp.join(REPO, TTL_CONFIG.format(k=SHOTS[0])))
    records, table = {}, {}
    for k in args.shots:
        k_ann = f'{shot_dir}/split{args.split}_{k}shot.json'
        finetune_cfg = FINETUNE_CONFIG.format(k=k)
        ttl_config = split_config(TTL_CONFIG.format(k=k), args.split, novel, out)
        ft_ckpt = train(f'finetune_{k}shot{tag}', split_config(
            finetune_cfg, args.split, novel, out), common + [
                f'load_from={base_ckpt}'] + train_options(
                    args.data, finetune_cfg, k_ann, scale), out)
        ttl = common + ttl_options(args.data, k_ann, stream_len,
                                   ttl_cfg.test_cfg.stream_dataloader.batch_size,
                                   args.iters_scale)
        records[k] = dict(
            ttl=test_time_learning(f'ps-ttl_{k}shot{tag}', ttl_config, ft_ckpt,
                                   ttl, out),
            ttl_no_soft=test_time_learning(
                f'ps-ttl-no-soft_{k}shot{tag}', ttl_config, ft_ckpt,
                ttl + ['model.soft_label_weight=0.0',
                       'test_cfg.evaluate_before=False'], out))
        table[k] = row_metrics(records[k])

    print(f'\nFashionScenes few-shot split {args.split} ({args.preset}), '
          f'shot seed {shot_seed}, novel: '
          f'{", ".join(split_info["novel_classes"])}')
    print(format_table(table))
    result = dict(preset=args.preset, split=args.split, data=args.data,
                  iters_scale=args.iters_scale, seed=args.seed,
                  shot_seed=shot_seed,
                  git_commit=git_commit(), wall_s=round(time.time() - start, 1),
                  novel_classes=split_info['novel_classes'], table=table,
                  pl_quality={k: {name: {key: rec[name]['metrics'].get(f'ttl/{key}')
                                         for key in ('pl_precision', 'pl_recall')}
                                  for name in ('ttl', 'ttl_no_soft')}
                              for k, rec in records.items()},
                  runs=records)
    with open(osp.join(out, f'fsod_table{tag}.json'), 'w') as f:
        json.dump(result, f, indent=2)
    plot(table, osp.join(out, f'fsod_table{tag}.png'),
         f'FashionScenes few-shot split {args.split} ({args.preset}), '
         f'shot seed {shot_seed}')
    print(f'wrote {out}/fsod_table{tag}.json and fsod_table{tag}.png')
    return result


def summarise(args, results: list, novel_classes: list) -> dict:
    """Mean and sample standard deviation over the K-shot samples of each
    row's metrics, and on how many samples TTL beats fine-tuning and the
    soft labels beat plain TTL (nAP50); prints the table and writes
    ``fsod_table_samples.json`` / ``.png``."""
    shots = list(results[0]['table'])
    table, wins = {}, {}
    for k in shots:
        per_sample = [r['table'][k] for r in results]
        values = {(row, key): np.array([s[row][key] for s in per_sample])
                  for row, _ in ROWS for key in per_sample[0][row]}
        table[k] = {row: {key: dict(mean=float(v.mean()), std=float(v.std(ddof=1)))
                          for (r, key), v in values.items() if r == row}
                    for row, _ in ROWS}
        nap = {row: values[row, 'nAP50'] for row, _ in ROWS}
        wins[k] = dict(ttl_over_finetuned=int((nap['ttl'] > nap['finetuned']).sum()),
                       soft_over_no_soft=int((nap['ttl'] > nap['ttl_no_soft']).sum()))
    samples = [r['shot_seed'] for r in results]
    title = (f'FashionScenes few-shot split {args.split} ({args.preset}), '
             f'{len(samples)} K-shot samples')
    print(f'\n{title}: mean ± std over shot seeds {samples}')
    print(format_summary(table, wins, len(samples)))
    out = args.work_dir
    summary = dict(preset=args.preset, split=args.split, data=args.data,
                   iters_scale=args.iters_scale, seed=args.seed, shot_seeds=samples,
                   git_commit=git_commit(), novel_classes=novel_classes,
                   table=table, wins=wins,
                   per_sample={r['shot_seed']: r['table'] for r in results})
    with open(osp.join(out, 'fsod_table_samples.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    plot({k: {row: {'nAP50': v['nAP50']['mean']} for row, v in rows.items()}
          for k, rows in table.items()}, osp.join(out, 'fsod_table_samples.png'), title,
         errors={k: {row: v['nAP50']['std'] for row, v in rows.items()}
                 for k, rows in table.items()})
    print(f'wrote {out}/fsod_table_samples.json and fsod_table_samples.png')
    return summary


if __name__ == '__main__':
    main()
