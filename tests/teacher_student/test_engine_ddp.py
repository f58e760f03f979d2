"""Two gloo ranks: class queues and mean-teacher buffers stay identical."""
import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn

from wsvision.models.teacher_student import ClassFeatureQueue, MeanTeacher

STEPS = 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def rank_rows(rank: int, step: int):
    """Different numbers of rows per rank (rank 1 pushes none at step 1)."""
    generator = torch.Generator().manual_seed(10 * step + rank)
    count = 0 if (rank, step) == (1, 1) else 2 + rank + step
    return (torch.randn(count, 4, generator=generator),
            torch.randint(0, 3, (count,), generator=generator))


def worker(rank: int, port: int, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=2)
    try:
        queue = ClassFeatureQueue(num_classes=3, dim=4, size=5)
        torch.manual_seed(0)
        pair = MeanTeacher(nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4)))
        for step in range(STEPS):
            queue.push(*rank_rows(rank, step))
            # each rank's BatchNorm sees its own data: student buffers differ
            pair.student(torch.randn(8, 4) + rank)
            pair.update_teacher(0.5)
        torch.save(dict(queue=queue.state_dict(),
                        teacher=pair.teacher.state_dict()),
                   os.path.join(out_dir, f'rank{rank}.pt'))
    finally:
        dist.destroy_process_group()


def test_queues_and_teacher_buffers_agree_across_two_gloo_ranks(tmp_path):
    mp.spawn(worker, args=(free_port(), str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f'rank{r}.pt', weights_only=True)
             for r in (0, 1)]
    for part in ('queue', 'teacher'):
        for name, value in ranks[0][part].items():
            assert torch.equal(value, ranks[1][part][name]), (part, name)
    # the queue equals one process pushing rank 0's then rank 1's rows
    reference = ClassFeatureQueue(num_classes=3, dim=4, size=5)
    for step in range(STEPS):
        rows = [rank_rows(r, step) for r in (0, 1)]
        reference.push(torch.cat([f for f, _ in rows]),
                       torch.cat([l for _, l in rows]))
    for name, value in reference.state_dict().items():
        assert torch.equal(value, ranks[0]['queue'][name]), name
