"""Train a model from a config: ``python tools/train.py CONFIG [options]``."""
import argparse
import os.path as osp
import sys

from mmengine.config import DictAction
from mmengine.runner import Runner

from wsvision.datasets.io import DataError
from wsvision.engine import finish_distributed, init_cpu_distributed
from wsvision.utils.config import ConfigError, default_work_dir, load_config


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a wsvision model')
    parser.add_argument('config', help='config file')
    parser.add_argument('--work-dir', help='folder for logs and checkpoints')
    parser.add_argument('--resume', nargs='?', const='auto', default=None,
                        metavar='auto|PATH',
                        help='resume from the latest checkpoint in the work '
                        'dir (auto, or no value) or from PATH')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision (fp16 on GPU, bf16 on CPU)')
    parser.add_argument('--seed', type=int, help='random seed')
    parser.add_argument('--deterministic', action='store_true',
                        help='deterministic algorithms (slower)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. '
                        'train_cfg.max_iters=1000 model.decode_head.channels=64')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser.parse_args(argv)


def build_train_config(args):
    cfg = load_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    init_cpu_distributed(cfg, args.launcher)
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or default_work_dir(
        args.config)
    if args.amp:
        import torch
        if torch.cuda.is_available():
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
        else:  # mmengine's AmpOptimWrapper refuses CPUs; bf16 needs no scaler
            cfg.optim_wrapper.type = 'BF16AutocastOptimWrapper'
            cfg.optim_wrapper.enabled = True
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise ConfigError(f'checkpoint to resume not found: {args.resume}')
        cfg.resume, cfg.load_from = True, args.resume
    if args.seed is not None:
        cfg.randomness = dict(cfg.get('randomness', {}), seed=args.seed)
    if args.deterministic:
        cfg.randomness = dict(cfg.get('randomness', {}), deterministic=True)
    return cfg


def main(argv=None):
    args = parse_args(argv)
    try:
        runner = Runner.from_cfg(build_train_config(args))
        runner.train()
        finish_distributed()  # in a distributed run, the process ends here
    except (ConfigError, DataError) as e:
        sys.exit(f'error: {e}')


if __name__ == '__main__':
    main()
