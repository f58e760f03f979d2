"""The SSL memories under DDP: two gloo ranks with different batches end with
the same memories, those of one process that applied both batches in rank
order."""
import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from wsvision.models.person_search import FeatureMemory, ReIDBatch, SSLLoss

STEPS, DIM = 3, 128


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def rank_update(rank: int, step: int):
    """Keys, features and tags of one rank's step; rank 1 has one more row,
    and both write key 2 (so the order of the gathered updates matters)."""
    generator = torch.Generator().manual_seed(10 * step + rank)
    keys = torch.tensor([2, 3 + rank] if rank == 0 else [2, 7, 8 + step])
    feats = F.normalize(torch.randn(len(keys), DIM, generator=generator), dim=1)
    return keys, feats, keys // 2


def rank_batch(rank: int, step: int) -> ReIDBatch:
    generator = torch.Generator().manual_seed(100 + 10 * step + rank)
    gt = F.normalize(torch.randn(4, DIM, generator=generator), dim=1)
    exemplars = F.normalize(gt[:, None] + 0.2 * torch.randn(
        4, 4, DIM, generator=generator), dim=2)
    return ReIDBatch(roi_embeds=gt, roi_gt=torch.arange(4), gt_embeds=gt,
                     gt_image=torch.tensor([0, 0, 1, 1]),
                     gt_instance_ids=torch.arange(4) + 4 * rank,
                     exemplar_embeds=exemplars)


def ssl_loss() -> SSLLoss:
    return SSLLoss(DIM, scales=[[8, 8], [16, 16], [24, 24]])


def worker(rank: int, port: int, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=2)
    try:
        memory, loss = FeatureMemory(DIM, momentum=0.8), ssl_loss()
        for step in range(STEPS):
            memory.update(*rank_update(rank, step))
            loss(rank_batch(rank, step))
        torch.save(dict(memory=memory.state_dict(), loss=loss.state_dict()),
                   os.path.join(out_dir, f'rank{rank}.pt'))
    finally:
        dist.destroy_process_group()


def test_memories_agree_across_two_gloo_ranks(tmp_path):
    mp.spawn(worker, args=(free_port(), str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f'rank{r}.pt', weights_only=True) for r in (0, 1)]
    for part in ('memory', 'loss'):
        for name, value in ranks[0][part].items():
            assert torch.equal(value, ranks[1][part][name]), (part, name)
    # One process applying rank 0's then rank 1's rows gets the same memory.
    memory, loss = FeatureMemory(DIM, momentum=0.8), ssl_loss()
    for step in range(STEPS):
        for rank in (0, 1):
            memory.update(*rank_update(rank, step))
    for name, value in memory.state_dict().items():
        assert torch.allclose(value.float(), ranks[0]['memory'][name].float()), name
    assert len(memory) == 8 + STEPS  # grown to the largest key
    # Every instance of both ranks is in the SSL memories of each rank.
    assert ranks[0]['loss']['main_memory.filled'].sum() == 8
    assert ranks[0]['loss']['exemplar_memory.filled'].sum() == 8


def test_memory_restores_its_size_from_a_checkpoint():
    memory = FeatureMemory(DIM, momentum=0.8)
    memory.update(*rank_update(0, 0))
    restored = FeatureMemory(DIM, momentum=0.8)
    restored.load_state_dict(memory.state_dict())
    assert torch.equal(restored.features, memory.features)
    assert restored.tags.tolist() == memory.tags.tolist()
