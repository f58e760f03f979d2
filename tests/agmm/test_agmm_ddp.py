"""The online EM under DDP: two gloo ranks on different data end with the same
running statistics, those of one process that saw the union of the data."""
import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from wsvision.models.losses import AGMMLoss, OnlineGaussianMixture
from wsvision.structures import PixelData, SegDataSample

K, C, STEPS = 3, 4, 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def rank_batch(rank: int, step: int):
    """Features (2, C, 3, 3) and assignments (2, 3, 3) that differ per rank,
    with an unlabelled and a padding cell in every image."""
    generator = torch.Generator().manual_seed(100 * step + rank)
    feat = torch.randn(2, C, 3, 3, generator=generator) + rank
    labels = torch.randint(0, K, (2, 3, 3), generator=generator)
    labels[:, 0, 0], labels[:, 2, 2] = 254, 255
    return feat, labels


def worker(rank: int, port: int, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=2)
    try:
        mixture = OnlineGaussianMixture(K, C, momentum=0.9)
        loss = AGMMLoss(K, C, momentum=0.9)
        for step in range(STEPS):
            feat, labels = rank_batch(rank, step)
            mixture.update(feat, labels)
            samples = []
            for label in labels:
                sample = SegDataSample()
                sample.gt_weak_seg = PixelData(data=label[None])
                samples.append(sample)
            loss(seg_logits=torch.randn(2, K, 3, 3), feat=feat, data_samples=samples)
        torch.save(dict(mixture=mixture.state_dict(), loss=loss.mixture.state_dict()),
                   os.path.join(out_dir, f'rank{rank}.pt'))
    finally:
        dist.destroy_process_group()


def test_online_em_statistics_agree_across_two_gloo_ranks(tmp_path):
    mp.spawn(worker, args=(free_port(), str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f'rank{rank}.pt', weights_only=True) for rank in (0, 1)]
    for part in ('mixture', 'loss'):
        for name, value in ranks[0][part].items():
            assert torch.equal(value, ranks[1][part][name]), (part, name)
    assert int(ranks[0]['loss']['num_updates']) == STEPS

    single = OnlineGaussianMixture(K, C, momentum=0.9)
    for step in range(STEPS):
        parts = [rank_batch(rank, step) for rank in (0, 1)]
        single.update(torch.cat([feat for feat, _ in parts]),
                      torch.cat([labels for _, labels in parts]))
    for name, value in single.state_dict().items():
        distributed = ranks[0]['mixture'][name]
        if value.dtype.is_floating_point:
            assert torch.allclose(distributed, value, rtol=1e-5, atol=1e-6), name
        else:
            assert torch.equal(distributed, value), name
    # The data differ per rank, so a rank that skipped the all-reduce would differ.
    alone = OnlineGaussianMixture(K, C, momentum=0.9)
    for step in range(STEPS):
        alone.update(*rank_batch(0, step))
    assert not torch.allclose(alone.mean, ranks[0]['mixture']['mean'])
