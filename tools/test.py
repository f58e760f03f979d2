"""Evaluate a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [options]``."""
import argparse
import json
import os
import os.path as osp
import sys

from mmengine.config import DictAction
from mmengine.runner import Runner

from wsvision.datasets.io import DataError
from wsvision.engine import finish_distributed, init_cpu_distributed
from wsvision.utils.config import ConfigError, default_work_dir, load_config


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test a wsvision model')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='folder for the test logs')
    parser.add_argument('--out', help='write the metrics to this JSON file')
    parser.add_argument('--show-dir', help='write PNG visualisations here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser.parse_args(argv)


def build_test_config(args):
    if not osp.isfile(args.checkpoint):
        raise ConfigError(f'checkpoint not found: {args.checkpoint}')
    cfg = load_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    init_cpu_distributed(cfg, args.launcher)
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or default_work_dir(
        args.config)
    cfg.load_from = args.checkpoint
    cfg.resume = False
    if args.show_dir:
        if 'visualization_hook' not in cfg:
            raise ConfigError(f'{args.config} defines no `visualization_hook`, '
                              'so --show-dir has nothing to draw with')
        hook = dict(cfg.visualization_hook, out_dir=args.show_dir)
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [hook]
    return cfg


def main(argv=None):
    args = parse_args(argv)
    try:
        runner = Runner.from_cfg(build_test_config(args))
        metrics = runner.test()
    except (ConfigError, DataError) as e:
        sys.exit(f'error: {e}')
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(metrics, f, indent=2)
    finish_distributed()  # in a distributed run, the process ends here
    return metrics


if __name__ == '__main__':
    main()
