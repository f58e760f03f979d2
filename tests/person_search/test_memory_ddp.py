"""The SSL memories under DDP: two gloo ranks with different batches end with
the same memories, those of one process that applied both batches in rank
order."""
import torch
import torch.nn.functional as F

from tests.gloo import assert_states_equal, run_on_two_ranks
from wsvision.models.person_search import FeatureMemory, ReIDBatch, SSLLoss

STEPS, DIM = 3, 128


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


def worker(rank: int) -> dict:
    memory, loss = FeatureMemory(DIM, momentum=0.8), ssl_loss()
    for step in range(STEPS):
        memory.update(*rank_update(rank, step))
        loss(rank_batch(rank, step))
    return dict(memory=memory.state_dict(), loss=loss.state_dict())



def test_memories_agree_across_two_gloo_ranks(tmp_path):
    ranks = run_on_two_ranks(worker, tmp_path)
    assert_states_equal(*ranks, parts=('memory', 'loss'))
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
