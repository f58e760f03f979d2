"""What the benchmark table scripts of this folder share.

The scripts import it as ``common`` with their own folder on ``sys.path``
(the script folder when run as ``python tools/benchmarks/<name>.py``; they
also add it themselves so that they can be loaded by path, e.g. in tests):

- ``benchmark_parser`` / ``add_common_args``: the ``--preset``, ``--data``,
  ``--work-dir`` (or ``--out``), ``--iters-scale``, ``--seed`` and
  ``--cfg-options`` arguments;
- ``parse_common_args`` (``check_common_args`` + ``resolve_common_paths``):
  their validation and the default data and output folders
  (``data/fashion_scenes`` for the cpu preset, ``data/fashion_scenes_<preset>``
  otherwise, and ``work_dirs/<name>_<preset>``); ``choice_list`` for a
  comma-separated argument;
- running ``tools/*.py`` (``run_tool``, ``last_checkpoint``,
  ``parse_cfg_options``), ``git_commit``, ``scaled`` and the figure helpers
  ``pyplot`` / ``save_figure``.
"""
import argparse
import os
import os.path as osp
import re
import subprocess
import time

from mmengine.config import DictAction

from wsvision.datasets.fashion_scenes import PRESETS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DATA_HELP = ('FashionScenes folder (default: data/fashion_scenes for the cpu '
             'preset, data/fashion_scenes_<preset> otherwise)')
ITERS_SCALE_HELP = 'multiplies every schedule length'


def add_common_args(parser: argparse.ArgumentParser, name: str, *,
                    presets=PRESETS,
                    preset_help: str = 'FashionScenes preset to build and train on',
                    data_help: str = DATA_HELP, work_dir_flag: str = '--work-dir',
                    iters_scale_help: str = None, seed_help: str = None,
                    cfg_options_help: str = None) -> argparse.ArgumentParser:
    """Add the arguments every table script has: ``--preset``, ``--data``
    (unless ``data_help`` is None), the output folder ``work_dir_flag``
    (default ``work_dirs/<name>``, where ``<name>`` may hold ``<preset>``
    or another argument in angle brackets) and ``--seed``; ``--iters-scale``
    and ``--cfg-options`` only when their help is given."""
    parser.add_argument('--preset', default='cpu', choices=sorted(presets),
                        help=preset_help)
    if data_help is not None:
        parser.add_argument('--data', help=data_help)
    parser.add_argument(work_dir_flag, help=f'output folder (default: work_dirs/{name})')
    # What parse_common_args needs to resolve the output folder.
    parser.work_dir_name = name
    parser.work_dir_attr = work_dir_flag.lstrip('-').replace('-', '_')
    if iters_scale_help is not None:
        parser.add_argument('--iters-scale', type=float, default=1.0,
                            help=iters_scale_help)
    parser.add_argument('--seed', type=int, default=0, help=seed_help)
    if cfg_options_help is not None:
        parser.add_argument('--cfg-options', nargs='+', default=[],
                            help=cfg_options_help)
    return parser


def benchmark_parser(description: str, name: str, **kwargs) -> argparse.ArgumentParser:
    """An ``ArgumentParser`` with ``add_common_args(parser, name, **kwargs)``."""
    return add_common_args(argparse.ArgumentParser(description=description),
                           name, **kwargs)


def check_common_args(parser: argparse.ArgumentParser, args) -> None:
    """Reject a non-positive ``--iters-scale``."""
    scale = getattr(args, 'iters_scale', None)
    if scale is not None and scale <= 0:
        parser.error(f'--iters-scale must be positive, got {scale}')


def choice_list(parser: argparse.ArgumentParser, flag: str, value: str, choices) -> list:
    """The comma-separated names of ``value``; ``parser.error`` unless there
    is one at least and all are in ``choices``."""
    names = [v.strip() for v in value.split(',') if v.strip()]
    unknown = sorted(set(names) - set(choices))
    if unknown or not names:
        parser.error(f'{flag}: unknown {unknown}; choose from {", ".join(choices)}')
    return names


def default_data(preset: str) -> str:
    """The FashionScenes folder of ``preset`` (the cpu build is the
    repository's default folder)."""
    suffix = '' if preset == 'cpu' else f'_{preset}'
    return osp.join(REPO, 'data', f'fashion_scenes{suffix}')


def resolve_common_paths(args, name: str, work_dir_attr: str = 'work_dir'):
    """Make ``args.data`` and the output folder absolute, with their
    defaults when not given; ``<arg>`` in ``name`` stands for that argument's
    value (e.g. ``fsod_table_<preset>_split<split>``)."""
    if hasattr(args, 'data'):
        args.data = osp.abspath(args.data or default_data(args.preset))
    work_name = re.sub(r'<(\w+)>', lambda m: str(getattr(args, m.group(1))), name)
    setattr(args, work_dir_attr, osp.abspath(
        getattr(args, work_dir_attr) or osp.join(REPO, 'work_dirs', work_name)))
    return args


def parse_common_args(parser: argparse.ArgumentParser, argv=None):
    """Parse ``argv`` with a parser of ``add_common_args``, check
    ``--iters-scale`` and resolve the folders."""
    args = parser.parse_args(argv)
    check_common_args(parser, args)
    return resolve_common_paths(args, parser.work_dir_name, parser.work_dir_attr)


def git_commit() -> str:
    """HEAD's hash, with '+dirty' for uncommitted changes, or 'unknown'."""
    def git(*args):
        return subprocess.run(['git', *args], cwd=REPO, capture_output=True, text=True)
    try:
        head = git('rev-parse', 'HEAD')
        if head.returncode != 0:
            return 'unknown'
        dirty = git('status', '--porcelain', '--untracked-files=no').stdout.strip()
    except OSError:  # no git
        return 'unknown'
    return head.stdout.strip() + ('+dirty' if dirty else '')


def run_tool(cmd, log_path: str) -> float:
    """Run a tool with its output in ``log_path``; returns the wall time."""
    start = time.time()
    with open(log_path, 'a') as log:
        result = subprocess.run(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                env=dict(os.environ, PYTHONPATH=REPO))
    if result.returncode != 0:
        raise RuntimeError(f'{" ".join(cmd[1:3])} failed (exit {result.returncode}); '
                           f'see {log_path}')
    return time.time() - start


def parse_cfg_options(options) -> dict:
    """``['key=value', ...]`` as ``tools/train.py`` reads ``--cfg-options``."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    return parser.parse_args(['--cfg-options', *options] if options else []).cfg_options


def target_lines(targets: dict) -> list:
    """``met: <target>`` / ``NOT met: ...`` / ``not measured: ...`` (a
    target whose value is None) for each item of ``{target: bool | None}``."""
    status = {True: 'met', False: 'NOT met', None: 'not measured'}
    return [f'{status[met]}: {target}' for target, met in targets.items()]


def last_checkpoint(work_dir: str):
    """The checkpoint MMEngine recorded last in ``work_dir``, or None."""
    pointer = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(pointer):
        return None
    with open(pointer) as f:
        path = f.read().strip()
    return path if osp.isfile(path) else None


def scaled(n: float, scale: float, low: int = 1) -> int:
    """``n * scale`` rounded, at least ``low``."""
    return max(low, int(round(n * scale)))


def pyplot():
    """``matplotlib.pyplot`` on the file-only Agg backend."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, path: str, dpi: int = 100) -> None:
    """Lay out ``fig``, write it to ``path`` and close it."""
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)


def mmap_large_cpu_blocks() -> None:
    """Make glibc mmap (and unmap on free) every allocation of 64 KiB or more,
    so that freed tensors leave the resident set at once and its peak follows
    the live tensors. Call it first in a fresh process: it slows allocations,
    so time nothing there."""
    import ctypes
    m_mmap_threshold = -3
    ctypes.CDLL('libc.so.6').mallopt(m_mmap_threshold, 64 * 1024)


def proc_status_mib(field: str) -> float:
    """A memory field of /proc/self/status (Linux), in MiB."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1]) / 1024  # kB
    raise OSError(f'/proc/self/status has no {field}')


def cpu_peak_extra_mib(call) -> float:
    """Resident memory (MiB) that ``call()`` adds at its peak: one warm-up
    call, then the peak (VmHWM, reset through clear_refs) of a second call
    minus the resident set before it. Use after ``mmap_large_cpu_blocks``."""
    call()
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')  # reset VmHWM to the current resident set size
    before = proc_status_mib('VmRSS')
    call()
    return proc_status_mib('VmHWM') - before
