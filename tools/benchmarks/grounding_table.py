"""PhantomPET grounding benchmark.

``python tools/benchmarks/grounding_table.py --preset cpu`` builds PhantomPET
(unless it exists), makes the weak labels of the training split, trains and
tests three models and prints:

- the weak-label accuracy (the paper: 98%);
- F1 per tracer and overall of the no-text DynUNet, ConTEXTual Net 3D trained
  on weak labels and ConTEXTual Net 3D trained on true labels.

It writes ``grounding_table.json`` (metrics, configs, seed, git commit, wall
time) and ``grounding_table.png`` (F1 bars) to the work folder, and example
overlays of the weak-label model to ``<work>/contextual-weak/vis/``.
Presets: ``tiny`` (a smoke run of a few iterations), ``cpu`` (2 CPU cores,
about 20 minutes per model) and ``gpu`` (the paper's network). ``--resume``
continues each model from its latest checkpoint in ``<work>/<row>/`` (e.g.
after an interruption, or for models trained with ``tools/train.py`` there);
a finished model is only tested, and its ``train_time_s`` covers this run
alone.
"""
import json
import os
import os.path as osp
import sys
import time

from mmengine.config import Config
from mmengine.runner import Runner

from wsvision.datasets.petct import (PRESETS, build_phantom_pet,
                                     format_label_summary, label_dataset,
                                     score_weak_labels)
from wsvision.datasets.petct.phantom import TRACERS

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from common import (benchmark_parser, git_commit, pyplot,  # noqa: E402
                    save_figure, target_lines)

CONFIG_DIR = osp.join(osp.dirname(osp.abspath(__file__)), '..', '..',
                      'configs', 'contextual_net')
CPU_CONFIGS = {
    'notext-weak': 'notext_dynunet-s_phantompet-cpu-weak.py',
    'contextual-weak':
        'contextual-net-3d_dynunet-s_minilm_phantompet-cpu-weak.py',
    'contextual-true':
        'contextual-net-3d_dynunet-s_minilm_phantompet-cpu-true.py',
}
PRESET_CONFIGS = {
    'tiny': CPU_CONFIGS,
    'cpu': CPU_CONFIGS,
    'gpu': {
        'notext-weak': 'notext_dynunet_phantompet-weak.py',
        'contextual-weak':
            'contextual-net-3d_dynunet_minilm_phantompet-weak.py',
        'contextual-true':
            'contextual-net-3d_dynunet_minilm_phantompet-true.py',
    },
}
MODEL_NAMES = {
    'notext-weak': 'no-text DynUNet (weak labels)',
    'contextual-weak': 'ConTEXTual Net 3D (weak labels)',
    'contextual-true': 'ConTEXTual Net 3D (true labels)',
}
# The tiny preset only checks that every stage runs: a few iterations of a
# narrow network on 32x32x48 volumes.
TINY_OVERRIDES = {
    'train_cfg.max_iters': 4, 'train_cfg.val_interval': 4,
    'model.filters': (8, 8, 16, 16, 16), 'model.roi_size': (32, 32, 32),
    'param_scheduler': [dict(type='ConstantLR', factor=1.0, by_epoch=False)],
    'default_hooks.checkpoint.interval': 4,
}
TARGETS = dict(weak_label_accuracy=0.98, text_f1=0.80, text_gain=0.30)
COLUMNS = list(TRACERS) + ['overall']


def parse_args(argv=None):
    parser = benchmark_parser(
        'PhantomPET grounding table', 'grounding_table_<preset>',
        presets=PRESET_CONFIGS, preset_help='PhantomPET preset to build and train on',
        data_help=None, seed_help='seed of the data set and of training')
    parser.add_argument('--data-root',
                        help='default: data/phantom_pet_<preset>')
    parser.add_argument('--resume', action='store_true',
                        help='resume each model from the latest checkpoint '
                        'in WORK_DIR/<row> (a finished model is only tested)')
    parser.add_argument('--rebuild', action='store_true',
                        help='rebuild PhantomPET even if a build of this '
                        'preset and seed exists')
    return parser.parse_args(argv)


def needs_build(data_root: str, preset: str, seed: int) -> bool:
    """True unless ``data_root`` holds PhantomPET of this preset and seed."""
    meta_path = osp.join(data_root, 'dataset.json')
    if not osp.isfile(meta_path):
        return True
    with open(meta_path) as f:
        meta = json.load(f)
    sizes = {split: len(ids) for split, ids in meta.get('splits', {}).items()}
    return (meta.get('preset'), meta.get('seed'), sizes) != (
        preset, seed, PRESETS[preset]['splits'])


def model_config(preset: str, key: str, data_root: str, work_dir: str,
                 seed: int) -> Config:
    cfg = Config.fromfile(osp.join(CONFIG_DIR, PRESET_CONFIGS[preset][key]))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = data_root
    cfg.work_dir = osp.join(work_dir, key)
    cfg.randomness = dict(seed=seed, deterministic=False)
    if preset == 'tiny':
        cfg.merge_from_dict(TINY_OVERRIDES)
    if key == 'contextual-weak':
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [dict(
            cfg.visualization_hook, out_dir=osp.join(cfg.work_dir, 'vis'),
            max_samples=8)]
    return cfg


def f1_row(metrics: dict) -> dict:
    return {column: metrics[f'grounding/f1_{column}'] if column != 'overall'
            else metrics['grounding/f1'] for column in COLUMNS}


def format_table(results: dict) -> str:
    width = max(len(name) for name in MODEL_NAMES.values()) + 2
    header = 'model'.ljust(width) + ''.join(c.rjust(14) for c in COLUMNS)
    lines = [header, '-' * len(header)]
    for key, result in results.items():
        lines.append(MODEL_NAMES[key].ljust(width) + ''.join(
            f'{result["f1"][c]:14.3f}' for c in COLUMNS))
    return '\n'.join(lines)


def check_targets(score: dict, results: dict) -> dict:
    text = results['contextual-weak']['f1']['overall']
    no_text = results['notext-weak']['f1']['overall']
    return {
        f'weak-label accuracy >= {TARGETS["weak_label_accuracy"]:.0%}':
            score['accuracy'] >= TARGETS['weak_label_accuracy'],
        f'text-conditioned F1 >= {TARGETS["text_f1"]:.2f}':
            text >= TARGETS['text_f1'],
        f'text-conditioned F1 >= no-text F1 + {TARGETS["text_gain"]:.2f}':
            text >= no_text + TARGETS['text_gain'],
    }


def plot(results: dict, score: dict, path: str, title: str) -> None:
    import numpy as np
    fig, ax = pyplot().subplots(figsize=(9, 4.5))
    width = 0.8 / len(results)
    for i, (key, result) in enumerate(results.items()):
        ax.bar(np.arange(len(COLUMNS)) + (i - (len(results) - 1) / 2) * width,
               [result['f1'][c] for c in COLUMNS], width,
               label=MODEL_NAMES[key])
    ax.axhline(TARGETS['text_f1'], color='grey', linestyle='--', linewidth=1,
               label=f'target F1 {TARGETS["text_f1"]:.2f}')
    ax.set_xticks(np.arange(len(COLUMNS)), COLUMNS)
    ax.set_ylim(0, 1)
    ax.set_ylabel('grounding F1')
    ax.set_title(f'{title}\nweak-label accuracy '
                 f'{100 * score["accuracy"]:.1f}% (paper: 98%)')
    ax.legend(loc='upper left', fontsize=8)
    save_figure(fig, path)


def main(argv=None):
    args = parse_args(argv)
    start = time.time()
    data_root = args.data_root or osp.join('data',
                                           f'phantom_pet_{args.preset}')
    work_dir = args.work_dir or osp.join('work_dirs',
                                         f'grounding_table_{args.preset}')
    os.makedirs(work_dir, exist_ok=True)
    if args.rebuild or needs_build(data_root, args.preset, args.seed):
        build_phantom_pet(data_root, args.preset, args.seed)
    rows = label_dataset(data_root, splits=['train'])
    score = score_weak_labels(data_root, rows)
    print(format_label_summary(rows, score))

    results = {}
    for key in PRESET_CONFIGS[args.preset]:
        cfg = model_config(args.preset, key, data_root, work_dir, args.seed)
        cfg.resume = args.resume
        runner = Runner.from_cfg(cfg)
        train_start = time.time()
        runner.train()
        test_start = time.time()
        metrics = runner.test()
        results[key] = dict(
            name=MODEL_NAMES[key], config=PRESET_CONFIGS[args.preset][key],
            resumed=args.resume,
            train_time_s=round(test_start - train_start, 1),
            test_time_s=round(time.time() - test_start, 1),
            f1=f1_row(metrics),
            counts={k: metrics[f'grounding/{k}'] for k in ('tp', 'fp', 'fn')})

    title = f'PhantomPET grounding, preset {args.preset}, seed {args.seed}'
    targets = check_targets(score, results)
    summary = dict(
        benchmark='PhantomPET grounding', preset=args.preset, seed=args.seed,
        git_commit=git_commit(), data_root=data_root,
        wall_time_s=round(time.time() - start, 1),
        weak_labels={k: v for k, v in score.items() if k != 'errors'},
        weak_label_errors=score['errors'], models=results, targets=targets)
    json_path = osp.join(work_dir, 'grounding_table.json')
    with open(json_path, 'w') as f:
        json.dump(summary, f, indent=2)
    png_path = osp.join(work_dir, 'grounding_table.png')
    plot(results, score, png_path, title)

    print(f'\n{title}')
    print(f'weak-label accuracy: {100 * score["accuracy"]:.1f}% '
          f'({score["kept"]} kept labels; the paper: 98%)')
    print(format_table(results))
    print('\n'.join(target_lines(targets)))
    print(f'wall time {summary["wall_time_s"]:.0f} s; wrote {json_path}, '
          f'{png_path} and {osp.join(work_dir, "contextual-weak", "vis")}')
    return summary


if __name__ == '__main__':
    main()
