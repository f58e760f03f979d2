"""Two gloo ranks: class queues and mean-teacher buffers stay identical."""
import torch
import torch.nn as nn

from tests.gloo import assert_states_equal, run_on_two_ranks
from wsvision.models.teacher_student import ClassFeatureQueue, MeanTeacher

STEPS = 3


def rank_rows(rank: int, step: int):
    """Different numbers of rows per rank (rank 1 pushes none at step 1)."""
    generator = torch.Generator().manual_seed(10 * step + rank)
    count = 0 if (rank, step) == (1, 1) else 2 + rank + step
    return (torch.randn(count, 4, generator=generator),
            torch.randint(0, 3, (count,), generator=generator))


def worker(rank: int) -> dict:
    queue = ClassFeatureQueue(num_classes=3, dim=4, size=5)
    torch.manual_seed(0)
    pair = MeanTeacher(nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4)))
    for step in range(STEPS):
        queue.push(*rank_rows(rank, step))
        # each rank's BatchNorm sees its own data: student buffers differ
        pair.student(torch.randn(8, 4) + rank)
        pair.update_teacher(0.5)
    return dict(queue=queue.state_dict(), teacher=pair.teacher.state_dict())


def test_queues_and_teacher_buffers_agree_across_two_gloo_ranks(tmp_path):
    ranks = run_on_two_ranks(worker, tmp_path)
    assert_states_equal(*ranks, parts=('queue', 'teacher'))
    # the queue equals one process pushing rank 0's then rank 1's rows
    reference = ClassFeatureQueue(num_classes=3, dim=4, size=5)
    for step in range(STEPS):
        rows = [rank_rows(r, step) for r in (0, 1)]
        reference.push(torch.cat([f for f, _ in rows]),
                       torch.cat([l for _, l in rows]))
    for name, value in reference.state_dict().items():
        assert torch.equal(value, ranks[0]['queue'][name]), name
