"""Turn a training checkpoint into a zoo file and print its metafile entry.

    python tools/model_zoo/publish_model.py WORK_DIR/iter_10800.pth \\
        --out-dir checkpoints --fp16 [--metrics metrics.json]

The published file keeps the weights and ``meta`` (the config text, the
classes, the git commit of the code) and drops the optimizer, the scheduler,
the message hub and the random state. It is written as
``<name>-<sha256[:8]>.pth``; the printed entry goes in
``configs/<method>/metafile.yml``. ``--metrics`` takes the JSON that
``tools/test.py CONFIG PUBLISHED_FILE --out metrics.json`` writes, so the
listed numbers are those of the published (e.g. fp16) weights.
"""
import argparse
import hashlib
import io
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile

import torch
import yaml
from mmengine.config import Config

from wsvision.apis.hub import REPO_ROOT, sha256_of
from wsvision.apis.model import load_checkpoint_file, omittable_prefixes
from wsvision.models.teacher_student import teacher_state_dict

#: ``meta`` keys of an MMEngine checkpoint that a published file keeps.
KEPT_META = ('cfg', 'dataset_meta', 'seed', 'experiment_name', 'iter',
             'epoch', 'time', 'mmengine_version')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('checkpoint', help='training checkpoint (.pth)')
    parser.add_argument('--name', help='model name (default: the config '
                        "file's name, from the checkpoint's experiment name)")
    parser.add_argument('--config', help='repository-relative config of the '
                        'entry (default: configs/*/<name>.py)')
    parser.add_argument('--out-dir',
                        default=osp.join(REPO_ROOT, 'checkpoints'),
                        help='folder for the published file (default: the '
                        "repository's checkpoints/)")
    parser.add_argument('--fp16', action='store_true',
                        help='store floating-point tensors as float16')
    parser.add_argument('--teacher-only', action='store_true',
                        help='keep only the EMA teacher of a teacher-student '
                        'model (WSCoL, ...), keyed as the plain detector: '
                        'what inference needs')
    parser.add_argument('--inference-only', action='store_true',
                        help='drop what inference does not need from the '
                        "file: the model class's omittable_state_prefixes "
                        '(memory banks, frozen pretrained encoders)')
    parser.add_argument('--metrics', help='JSON of tools/test.py --out, run '
                        'on the published file')
    parser.add_argument('--metric-keys', nargs='+',
                        help='metrics to list (default: every top-level '
                        'number whose key has no dot)')
    parser.add_argument('--training-data', help='the Training Data text '
                        '(default: from the config)')
    parser.add_argument('--url-prefix', help='list the weights as '
                        'URL_PREFIX/<file> (release assets) instead of a '
                        'repository-relative path')
    return parser.parse_args(argv)


def git_commit(repo: str = REPO_ROOT) -> str:
    """HEAD's hash, with ``+dirty`` when tracked files differ from it."""
    def git(*args):
        return subprocess.run(['git', '-C', repo, *args], capture_output=True,
                              text=True, check=True).stdout.strip()
    try:
        commit = git('rev-parse', 'HEAD')
        return commit + ('+dirty' if git('status', '--porcelain',
                                         '--untracked-files=no') else '')
    except (OSError, subprocess.CalledProcessError):
        return 'unknown'


def omittable_state_prefixes(cfg_text: str) -> tuple:
    """What an inference file of the checkpoint config's model class may
    omit (``TaskModel.omittable_state_prefixes``)."""
    from mmengine.registry import init_default_scope

    from wsvision.registry import MODELS
    cfg = Config.fromstring(cfg_text, '.py')
    init_default_scope(cfg.get('default_scope', 'wsvision'))
    model_cls = MODELS.get(cfg.model.type)
    if model_cls is None:
        raise ValueError(f'unknown model type {cfg.model.type!r}')
    return omittable_prefixes(model_cls)


def strip_checkpoint(path: str, fp16: bool, teacher_only: bool = False,
                     inference_only: bool = False) -> dict:
    loaded = load_checkpoint_file(path)
    if 'cfg' not in loaded['meta']:
        raise ValueError(f'{path}: meta has no `cfg` (config text); publish '
                         'checkpoints written by tools/train.py')
    if inference_only:
        drop = omittable_state_prefixes(loaded['meta']['cfg'])
        loaded['state_dict'] = {k: v for k, v in loaded['state_dict'].items()
                                if not k.startswith(drop)}
    if teacher_only:
        try:
            loaded['state_dict'] = teacher_state_dict(loaded['state_dict'])
        except KeyError as e:
            raise ValueError(f'{path}: --teacher-only: {e.args[0]}') from e
    meta = {k: loaded['meta'][k] for k in KEPT_META if k in loaded['meta']}
    meta['git_commit'] = git_commit()
    state_dict = {k: v.half() if fp16 and v.is_floating_point() else v
                  for k, v in loaded['state_dict'].items()}
    return dict(meta=meta, state_dict=state_dict)


def save_published(checkpoint: dict, out_dir: str, name: str) -> str:
    """Write ``<out_dir>/<name>-<sha256[:8]>.pth`` and return its path.

    Serialised in memory first: ``torch.save`` to a file names the archive
    after the file, so the same checkpoint would hash differently.
    """
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    path = osp.join(out_dir, f'{name}-{digest[:8]}.pth')
    os.makedirs(out_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_dir, suffix='.pth.tmp')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    return path


def default_name(meta: dict) -> str:
    """The config name: the experiment name without ``_YYYYmmdd_HHMMSS``."""
    experiment = meta.get('experiment_name')
    if not experiment:
        raise ValueError('the checkpoint has no experiment name; pass --name')
    parts = experiment.rsplit('_', 2)
    return parts[0] if len(parts) == 3 and parts[1].isdigit() else experiment


def find_config(name: str) -> str:
    import glob
    found = sorted(glob.glob(osp.join(REPO_ROOT, 'configs', '*',
                                      f'{name}.py')))
    if len(found) != 1:
        raise ValueError(f'found {len(found)} configs named {name}.py under '
                         'configs/; pass --config')
    return osp.relpath(found[0], REPO_ROOT)


def describe_training_data(cfg: Config) -> str:
    dataset = cfg.train_dataloader.dataset
    text = f'{dataset.type} ({dataset.get("data_root", "?")})'
    if dataset.get('weak_label'):
        text += f', {dataset.weak_label}'
    return text


def read_metrics(path: str, keys) -> dict:
    with open(path) as f:
        metrics = json.load(f)
    if keys:
        missing = [k for k in keys if k not in metrics]
        if missing:
            raise KeyError(f'{path}: no metric {missing} (found '
                           f'{sorted(metrics)})')
        return {k: round(float(metrics[k]), 4) for k in keys}
    return {k: round(float(v), 4) for k, v in metrics.items()
            if '.' not in k and isinstance(v, (int, float))}


def metafile_entry(name: str, config: str, weights: str, sha256: str,
                   training_data: str, task: str, metrics: dict) -> dict:
    return {
        'Name': name,
        'Config': config,
        'Metadata': {'Training Data': training_data},
        'Results': [{'Task': task, 'Dataset': 'FashionScenes',
                     'Metrics': metrics}],
        'Weights': weights,
        'Sha256': sha256,
    }


def task_of(cfg: Config) -> str:
    evaluators = cfg.test_evaluator if isinstance(
        cfg.test_evaluator, list) else [cfg.test_evaluator]
    types = {e['type'] for e in evaluators}
    if 'IoUMetric' in types:
        return 'Semantic Segmentation'
    if types & {'CocoMetric', 'VOCMetric'}:
        return 'Object Detection'
    return ', '.join(sorted(types))


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.checkpoint):
        sys.exit(f'error: checkpoint not found: {args.checkpoint}')
    checkpoint = strip_checkpoint(args.checkpoint, args.fp16,
                                  args.teacher_only, args.inference_only)
    name = args.name or default_name(checkpoint['meta'])
    config = args.config or find_config(name)
    path = save_published(checkpoint, args.out_dir, name)
    cfg = Config.fromstring(checkpoint['meta']['cfg'], '.py')
    if args.url_prefix:
        weights = f'{args.url_prefix.rstrip("/")}/{osp.basename(path)}'
    else:
        weights = osp.relpath(osp.abspath(path), REPO_ROOT)
        if weights.startswith('..'):
            sys.exit(f'error: {path} is outside the repository; pass '
                     '--url-prefix for files hosted elsewhere')
    metrics = read_metrics(args.metrics, args.metric_keys) \
        if args.metrics else {}
    entry = metafile_entry(name, config, weights, sha256_of(path),
                           args.training_data or describe_training_data(cfg),
                           task_of(cfg), metrics)
    print(f'published {path} ({osp.getsize(path) / 2**20:.1f} MiB)')
    print('metafile entry (under `Models:`):')
    print(yaml.safe_dump([entry], sort_keys=False), end='')
    return path, entry


if __name__ == '__main__':
    main()
