"""AGMM and AGMM++ drive their loss down when a tiny network overfits two images."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from wsvision.models.losses import AGMMLoss
from wsvision.structures import PixelData, SegDataSample

K, C = 3, 8


class TinySegmentor(nn.Module):
    """Returns logits (B, K, H, W) and a stride-2 feature (B, C, H/2, W/2)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, C, 3, padding=1), nn.ReLU(),
                                      nn.Conv2d(C, C, 3, stride=2, padding=1), nn.ReLU())
        self.classifier = nn.Conv2d(C, K, 1)

    def forward(self, images):
        feat = self.features(images)
        logits = F.interpolate(self.classifier(feat), size=images.shape[-2:], mode='bilinear',
                               align_corners=False)
        return logits, feat


def scribbled_squares():
    """Two 16 x 16 images: a red and a blue square on grey, a scribble line per
    region, and two padded rows at the bottom."""
    generator = torch.Generator().manual_seed(0)
    images = 0.5 + 0.05 * torch.randn(2, 3, 16, 16, generator=generator)
    dense = torch.zeros(2, 16, 16, dtype=torch.long)
    dense[:, 2:8, 2:8], dense[:, 8:14, 8:14] = 1, 2
    images[:, 0][dense == 1] += 0.4
    images[:, 2][dense == 2] += 0.4
    weak = torch.full_like(dense, 254)
    weak[:, 5, 3:7], weak[:, 11, 9:13], weak[:, 1, 1:15] = 1, 2, 0
    weak[:, 14:] = 255
    samples = []
    for label in weak:
        sample = SegDataSample()
        sample.gt_weak_seg = PixelData(data=label[None])
        sample.gt_tags = torch.ones(K)
        samples.append(sample)
    return images, samples


@pytest.mark.parametrize('options', [dict(reference_mode=True),
                                     dict(warmup_iters=0, temperature=2.0, momentum=0.9)])
def test_loss_falls_when_overfitting(options):
    torch.manual_seed(0)
    images, samples = scribbled_squares()
    model = TinySegmentor()
    loss_fn = AGMMLoss(K, C, **options)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    history = []
    for _ in range(40):
        logits, feat = model(images)
        terms = loss_fn(seg_logits=logits, feat=feat, data_samples=samples)
        total = sum(terms.values())
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        history.append(total.item())
    assert sum(history[-5:]) / 5 < 0.6 * sum(history[:5]) / 5, history
    # The network now segments the unlabelled interior of both squares.
    prediction = model(images)[0].argmax(1)
    assert (prediction[:, 3:7, 3:7] == 1).float().mean() > 0.9
    assert (prediction[:, 9:13, 9:13] == 2).float().mean() > 0.9
