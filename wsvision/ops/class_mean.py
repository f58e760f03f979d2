"""Per-image class centres from a sparse label mask, as one segment reduction.

AGMM's centres mu_k are the mean feature of the labelled pixels of class k in
each image. The reference code loops over images and classes in Python;
:func:`masked_class_mean` sums every (image, class) segment in one kernel call
(an ``index_add_`` in the PyTorch reference) and divides by the counts.
"""
import torch

from ..structures import IGNORE_INDEX, UNLABELLED
from .backend import get_kernels
from .validation import check_features


class _SegmentSum(torch.autograd.Function):
    """sums[b, k, c] = sum of feat[b, c, p] over pixels with segment[b, p] == k."""

    @staticmethod
    def forward(ctx, feat, segment, num_segments, kernels):
        ctx.save_for_backward(segment)
        ctx.feat_shape = feat.shape
        ctx.kernels = kernels
        return kernels.segment_sum_forward(feat.contiguous(), segment, num_segments)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_sums):
        segment, = ctx.saved_tensors
        grad_feat = ctx.kernels.segment_sum_backward(
            grad_sums.contiguous(), segment, ctx.feat_shape[1])
        return grad_feat.view(ctx.feat_shape), None, None, None


def _segments(labels, num_classes, ignore, check_labels):
    """(B, h * w) int32 class index per pixel, -1 for ignored values and for
    values outside [0, K).

    Raises ValueError for a label that is neither ignored nor in [0, K),
    unless ``check_labels`` is False.
    """
    def isin(values):
        return torch.isin(labels, torch.tensor(sorted(values), device=labels.device))

    skipped = (labels < 0) | (labels >= num_classes)
    if check_labels:
        unexpected = skipped & ~isin(ignore)
        if unexpected.any():
            values = torch.unique(labels[unexpected]).tolist()
            raise ValueError(f'labels hold values {values[:10]} that are neither class ids in '
                             f'[0, {num_classes}) nor ignored values {sorted(ignore)}')
    ignored_ids = {value for value in ignore if 0 <= value < num_classes}
    if ignored_ids:  # ignored values that are class ids too (the defaults are not)
        skipped = skipped | isin(ignored_ids)
    return torch.where(skipped, -1, labels).to(torch.int32).flatten(1)


def masked_class_mean(feat, labels, num_classes, ignore=(UNLABELLED, IGNORE_INDEX),
                      impl=None, check_labels=True):
    """Mean feature of each class's labelled pixels, per image.

    means[b, k] = sum_{x: labels[b, x] = k} feat[b, :, x] / counts[b, k],
    and 0 for a class with no pixel in image b (count 0).

    Args:
        feat (Tensor): (B, C, h, w) float32 or float64 features.
        labels (Tensor): (B, h, w) integer class ids at feat's resolution.
        num_classes (int): K; labels must be in [0, K) or in ``ignore``.
        ignore (int | Iterable[int]): label values that belong to no class,
            by default UNLABELLED (254) and IGNORE_INDEX (255).
        impl (str | None): 'auto', 'torch', 'cpp' or 'cuda' (see
            :func:`wsvision.ops.backend.get_kernels`).
        check_labels (bool): raise for a label that is neither in [0, K)
            nor ignored. On a GPU the check waits for the GPU (a host sync);
            False skips it, for labels already checked, and skips any such
            pixel.

    Returns:
        tuple[Tensor, Tensor]: means (B, K, C), differentiable w.r.t. feat,
        and counts (B, K) int64, the number of pixels of each class.
    """
    check_features(feat)
    B, C, h, w = feat.shape
    if not isinstance(labels, torch.Tensor) or tuple(labels.shape) != (B, h, w):
        got = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise ValueError(f'labels must have shape (B, h, w) = {(B, h, w)} to match feat '
                         f'{tuple(feat.shape)}, got {got}; resize the labels to the feature '
                         'map first')
    if labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise ValueError(f'labels must be an integer tensor, got {labels.dtype}')
    if labels.device != feat.device:
        raise ValueError(f'labels are on {labels.device} but feat is on {feat.device}')
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f'num_classes must be a positive int, got {num_classes!r}')
    ignore = {ignore} if isinstance(ignore, int) else set(ignore)
    segment = _segments(labels, num_classes, ignore, check_labels)
    kernels = get_kernels(feat.device, impl)
    sums = _SegmentSum.apply(feat, segment, num_classes, kernels)
    # The pixels of each (image, class): the same segment sum over ones (exact
    # below 2^24 pixels), with no host sync (bincount would wait for the GPU).
    pixels = kernels.segment_sum_forward(feat.new_ones(B, 1, h, w), segment, num_classes)
    means = sums / pixels.clamp(min=1)
    return means, pixels[..., 0].long()
