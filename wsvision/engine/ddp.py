"""Distributed training on CPU-only machines (gloo).

MMEngine 0.10.7 assumes a GPU in two places: its PyTorch launcher calls
``torch.cuda.set_device`` and its DDP wrapper passes ``device_ids``. Both fail
on a CPU machine, so ``init_cpu_distributed`` starts the gloo process group
before the Runner (which then skips its own init) and ``CPUAwareDDP`` drops
``device_ids`` for CPU modules, as ``DistributedDataParallel`` requires.
"""
import logging
import os
import sys

import torch
import torch.distributed as dist
from mmengine.model import MMDistributedDataParallel

from ..registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class CPUAwareDDP(MMDistributedDataParallel):
    """MMEngine's DDP wrapper that also works for modules on the CPU."""

    def __init__(self, module, device_ids=None, **kwargs):
        if next(module.parameters()).device.type == 'cpu':
            device_ids = None
        super().__init__(module=module, device_ids=device_ids, **kwargs)


def init_cpu_distributed(cfg, launcher: str) -> None:
    """For ``--launcher pytorch`` without CUDA: gloo process group + CPU DDP."""
    if launcher == 'none' or torch.cuda.is_available():
        return
    if launcher != 'pytorch':
        raise ValueError(f'--launcher {launcher} needs GPUs; on a CPU-only '
                         'machine use tools/dist_train.sh (--launcher pytorch)')
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    cfg.env_cfg.dist_cfg['backend'] = 'gloo'
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    # Scoped name: MMEngine looks the wrapper up in its root registry.
    wrapper.setdefault('type', 'wsvision.CPUAwareDDP')
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters',
                       cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper


def finish_distributed() -> None:
    """Leave the process group together, then end the process.

    Barrier, then destroy the group. A rank that then exits normally can
    still abort in gloo's C++ destructors during interpreter teardown
    ("terminate called without an active exception", seen after finished
    runs), and take the whole torchrun job down. So, in a distributed run,
    the logs and streams are flushed and the process ends here with status
    0, skipping that teardown; checkpoints are already on disk (atomic
    writes). Every entry point calls this on success. Without a process
    group it does nothing and returns.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return
    dist.barrier()
    dist.destroy_process_group()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
