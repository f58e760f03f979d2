"""The memory bank and the prototypes under DDP: two gloo ranks pushing
different features end with identical queues and prototypes, equal to those
of one process that saw both ranks' features in rank order."""
import torch

from tests.gloo import assert_states_equal, run_on_two_ranks
from wsvision.models.detectors.wscol import PrototypeMemory

CLASSES, DIM, SIZE, STEPS = 4, 3, 5, 4


def rank_batch(rank: int, step: int):
    """Features and labels that differ per rank (rank 1 pushes nothing at
    step 2, as a rank whose images had no pseudo-box)."""
    generator = torch.Generator().manual_seed(10 * step + rank)
    count = 0 if (rank, step) == (1, 2) else 3 + rank
    feats = torch.randn(count, DIM, generator=generator) + rank
    labels = torch.randint(0, CLASSES, (count,), generator=generator)
    return feats, labels


def worker(rank: int) -> dict:
    memory = PrototypeMemory(CLASSES, DIM, SIZE, momentum=0.4)
    for step in range(STEPS):
        memory.update(*rank_batch(rank, step))
    return memory.state_dict()



def test_memory_and_prototypes_agree_across_two_gloo_ranks(tmp_path):
    ranks = run_on_two_ranks(worker, tmp_path)
    assert_states_equal(*ranks)

    single = PrototypeMemory(CLASSES, DIM, SIZE, momentum=0.4)
    for step in range(STEPS):
        parts = [rank_batch(rank, step) for rank in (0, 1)]
        single.update(torch.cat([f for f, _ in parts]), torch.cat([l for _, l in parts]))
    for name, value in single.state_dict().items():
        assert torch.allclose(ranks[0][name].float(), value.float()), name
    # Each rank's data differ, so a rank that did not gather would differ.
    alone = PrototypeMemory(CLASSES, DIM, SIZE, momentum=0.4)
    for step in range(STEPS):
        alone.update(*rank_batch(0, step))
    assert not torch.allclose(alone.prototypes, ranks[0]['prototypes'])
