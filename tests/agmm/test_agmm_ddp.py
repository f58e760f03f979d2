"""The online EM under DDP: two gloo ranks on different data end with the same
running statistics, those of one process that saw the union of the data."""
import torch

from tests.gloo import assert_states_equal, run_on_two_ranks
from wsvision.models.losses import AGMMLoss, OnlineGaussianMixture
from wsvision.structures import PixelData, SegDataSample

K, C, STEPS = 3, 4, 3


def rank_batch(rank: int, step: int):
    """Features (2, C, 3, 3) and assignments (2, 3, 3) that differ per rank,
    with an unlabelled and a padding cell in every image."""
    generator = torch.Generator().manual_seed(100 * step + rank)
    feat = torch.randn(2, C, 3, 3, generator=generator) + rank
    labels = torch.randint(0, K, (2, 3, 3), generator=generator)
    labels[:, 0, 0], labels[:, 2, 2] = 254, 255
    return feat, labels


def worker(rank: int) -> dict:
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
    return dict(mixture=mixture.state_dict(), loss=loss.mixture.state_dict())



def test_online_em_statistics_agree_across_two_gloo_ranks(tmp_path):
    ranks = run_on_two_ranks(worker, tmp_path)
    assert_states_equal(*ranks, parts=('mixture', 'loss'))
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
