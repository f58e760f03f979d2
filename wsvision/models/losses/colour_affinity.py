"""A pairwise colour-affinity loss: neighbouring pixels of similar colour
should take the same class.

Weak labels leave the object boundaries to the network, and the feature map
where a mixture or a CAM decides is four times coarser than the image. The
image's own colours are the finest evidence of where an object ends. This is
the pairwise term of box-supervised instance segmentation (BoxInst, Tian et
al., CVPR 2021) and of the regularised losses for scribbles (Tang et al.,
ECCV 2018), written for K classes:

    L = mean over similar pairs (i, j) of  -log sum_k p_k(i) p_k(j)

where p is the network's softmax, the pairs are each pixel and its 8
neighbours at ``dilation`` pixels, and a pair is similar when its colour
affinity exp(-|I(i) - I(j)|^2 / (2 sigma^2)) is at least ``threshold``.
I is the network's (normalised) input. Padding is never part of a pair.
It is not part of AGMM or AGMM++: a config adds it to ``losses``.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from ...registry import MODELS
from ...structures import IGNORE_INDEX
from .cross_entropy import at_least_float32, stack_labels


def neighbours(x: torch.Tensor, dilation: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, 8, H, W): each pixel's 8 neighbours at
    ``dilation`` pixels (zeros beyond the border)."""
    B, C, H, W = x.shape
    patches = F.unfold(x, kernel_size=3, dilation=dilation, padding=dilation)
    patches = patches.view(B, C, 9, H, W)
    return torch.cat([patches[:, :, :4], patches[:, :, 5:]], dim=2)


def similar_pairs(image: torch.Tensor, valid: torch.Tensor, dilation: int,
                  sigma: float, threshold: float) -> torch.Tensor:
    """(B, 8, H, W) bool: the pixel and its neighbour are both ``valid``
    (B, H, W) and their colours in ``image`` (B, C, H, W) have an affinity of
    at least ``threshold``."""
    distance = (image[:, :, None] - neighbours(image, dilation)).pow(2).sum(1)
    affinity = torch.exp(-distance / (2 * sigma ** 2))
    both = valid[:, None] & (neighbours(valid[:, None].float(), dilation)[:, 0] > 0.5)
    return both & (affinity >= threshold)


def pairwise_agreement(seg_logits: torch.Tensor, dilation: int) -> torch.Tensor:
    """(B, 8, H, W): log sum_k p_k(i) p_k(j) for each pixel i and neighbour j."""
    log_p = at_least_float32(seg_logits).log_softmax(1)
    return torch.logsumexp(log_p[:, :, None] + neighbours(log_p, dilation), dim=1)


@MODELS.register_module()
class ColourAffinityLoss(nn.Module):
    """The pairwise term of the module docstring, as the loss ``loss_name``.

    Called as ``loss(seg_logits=(B, K, H, W), data_samples=[...],
    inputs=(B, C, H, W))``; the data samples' labels only mark the padding
    (``IGNORE_INDEX``).

    Args:
        loss_weight: its weight.
        sigma: colour scale of the affinity, in the units of the network's
            input (normalised; at std 58, 0.2 is about 12 of 255 levels).
        threshold: the least affinity of a similar pair (0.3 as BoxInst).
        dilation: neighbour distance in pixels (2 as BoxInst).
        start_iter: the term is 0 for this many training iterations (counted
            by a buffer, so it survives a resume), then counts in full. For
            labels that come from the network itself (CAM seeds of image
            tags): from the start, the term pulls the logits flat before
            they localise anything.
    """

    def __init__(self, loss_weight: float = 1.0, sigma: float = 0.2,
                 threshold: float = 0.3, dilation: int = 2, start_iter: int = 0,
                 loss_name: str = 'loss_affinity'):
        super().__init__()
        if sigma <= 0 or not 0 < threshold <= 1 or dilation < 1 or start_iter < 0:
            raise ValueError('ColourAffinityLoss needs sigma > 0, 0 < threshold <= 1, '
                             'dilation >= 1 and start_iter >= 0; got '
                             f'{sigma}, {threshold}, {dilation}, {start_iter}')
        self.loss_weight, self.loss_name = loss_weight, loss_name
        self.sigma, self.threshold, self.dilation = sigma, threshold, dilation
        self.start_iter = start_iter
        if start_iter:
            # Only then: checkpoints of configs without a start keep their keys.
            self.register_buffer('num_iters', torch.zeros((), dtype=torch.long))

    def forward(self, seg_logits: torch.Tensor, data_samples, inputs: torch.Tensor = None,
                **kwargs):
        if inputs is None:
            raise ValueError('ColourAffinityLoss needs the network inputs (inputs=...)')
        if inputs.shape[0] != seg_logits.shape[0] or inputs.shape[-2:] != seg_logits.shape[-2:]:
            raise ValueError(f'ColourAffinityLoss: inputs {tuple(inputs.shape)} and '
                             f'seg_logits {tuple(seg_logits.shape)} differ in batch or size')
        if self.start_iter:
            if self.training:
                self.num_iters += 1
            if int(self.num_iters) <= self.start_iter:
                return {self.loss_name: seg_logits.sum() * 0}
        valid = stack_labels(data_samples).to(seg_logits.device) != IGNORE_INDEX
        pairs = similar_pairs(at_least_float32(inputs), valid, self.dilation, self.sigma,
                              self.threshold)
        if not pairs.any():
            return {self.loss_name: seg_logits.sum() * 0}
        agreement = pairwise_agreement(seg_logits, self.dilation)
        loss = -(agreement * pairs).sum() / pairs.sum()
        return {self.loss_name: self.loss_weight * loss}

