"""Run a function on two gloo ranks (CPU processes) and collect what each
rank returns: the shared harness of the DDP-state tests."""
import os
import os.path as osp
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _rank_entry(rank: int, fn, port: int, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=2)
    try:
        torch.save(fn(rank), osp.join(out_dir, f'rank{rank}.pt'))
    finally:
        dist.destroy_process_group()


def run_on_two_ranks(fn, out_dir) -> list:
    """``fn(rank)`` on ranks 0 and 1 of a gloo group; returns what each rank
    returned (tensors / state dicts, saved and loaded weights-only).
    ``fn`` must be a module-level function (it is pickled to the workers)."""
    mp.spawn(_rank_entry, args=(fn, free_port(), str(out_dir)), nprocs=2, join=True)
    return [torch.load(osp.join(str(out_dir), f'rank{rank}.pt'), weights_only=True)
            for rank in (0, 1)]


def assert_states_equal(first: dict, second: dict, parts=None) -> None:
    """Every tensor of ``first`` equals the one of the same name in ``second``
    (per part of a dict of state dicts when ``parts`` is given)."""
    for part in parts or [None]:
        a, b = (first, second) if part is None else (first[part], second[part])
        assert a.keys() == b.keys(), part
        for name, value in a.items():
            assert torch.equal(value, b[name]), (part, name)
