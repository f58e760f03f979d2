"""The full-resolution terms of the AGMM loss, fused into one pass.

AGMM's pixel-level terms all read the network's class probabilities
p = softmax(logits) at every pixel: the partial cross-entropy, the
absent-class term, and the symmetric BCE between p and the GMM responses r
and the BCE between r and the labels. Written as separate PyTorch ops they
keep p, log p and about a dozen (B, K, H, W) or (B, S, H, W) intermediates for
the backward (over a GB at the VOC setting). :func:`agmm_pixel_losses` reads
the logits, labels and responses once in the forward and once in the
backward, keeps nothing but its inputs, and writes only the gradients. The
PyTorch reference, the C++ and the CUDA kernels share the interface of
:mod:`wsvision.ops.backend`; the per-pixel arithmetic of the kernels is
``csrc/pixel_losses.h``. :func:`naive_agmm_pixel_losses` is the same sums as
separate autograd ops, as the reference code computes them, kept for the
benchmark and as an independent check in the tests.
"""
import torch

from .backend import TorchKernels, get_kernels

#: The sums :func:`agmm_pixel_losses` returns, in order.
TERMS = ('ce', 'absent', 'sbce', 'label')


class _PixelLosses(torch.autograd.Function):

    @staticmethod
    def forward(ctx, logits, resp, labels, absent, mask, slot_class, eps, kernels):
        inputs = (logits, labels, absent, resp, mask, slot_class)
        out = kernels.agmm_pixel_forward(*inputs, eps)
        ctx.save_for_backward(*inputs)
        ctx.eps, ctx.kernels = eps, kernels
        sums, counts = out[:4].to(logits.dtype), out[4:].to(logits.dtype)
        ctx.mark_non_differentiable(counts)
        return sums, counts

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_sums, grad_counts):
        logits = ctx.saved_tensors[0]
        grad_logits, grad_resp = ctx.kernels.agmm_pixel_backward(
            grad_sums.to(logits.dtype).contiguous(), *ctx.saved_tensors, ctx.eps)
        return grad_logits, grad_resp, None, None, None, None, None, None


def agmm_pixel_losses(logits, labels, absent, resp, mask, slot_class, eps=1e-6, impl=None):
    """Sums of AGMM's four pixel-level losses, and what each runs over.

    At each pixel x with label y, p = softmax(logits[:, :, x]) and, for each
    slot s (class k = slot_class[b, s]), response r_s = resp[b, s, x] and mask
    m_s = mask[b, s, x], every log clamped at ``eps`` (its gradient 0 where
    it clamps, as ``torch.clamp``'s):

    - ``ce``: -log p_y over the labelled pixels (the partial cross-entropy);
    - ``absent``: -sum_{k: absent[b, k]} log(1 - p_k) over the valid pixels;
    - ``sbce``: BCE(p_k, r_s) + BCE(r_s, p_k) over the (x, s) with m_s;
    - ``label``: BCE(r_s, [y == k]) over the (x, s) with m_s at labelled x.

    Labels are class ids in [0, K); 255 (padding) counts in no term, and 254
    or any other value leaves the pixel unlabelled. Slot classes should be
    distinct within an image (a repeated class counts once per slot); a
    slot of a class outside [0, K) counts nowhere.

    Args:
        logits (Tensor): (B, K, H, W) float32 or float64.
        labels (Tensor): (B, H, W) int64.
        absent (Tensor): (B, K) bool, the classes surely not in the image.
        resp (Tensor): (B, S, H, W) responses in [0, 1], logits' dtype; S may be 0.
        mask (Tensor): (B, S, H, W) bool.
        slot_class (Tensor): (B, S) int64 class of each slot.
        eps (float): the clamp of every log.
        impl (str | None): 'auto', 'torch', 'cpp' or 'cuda' (see
            :func:`wsvision.ops.backend.get_kernels`).

    Returns:
        tuple[Tensor, Tensor]: sums (4,), in the order of ``TERMS``,
        differentiable w.r.t. logits and resp; counts (4,) in logits' dtype:
        labelled pixels, valid pixels, mask entries at valid pixels, and mask
        entries at labelled pixels. A term's mean is ``sums / counts.clamp(min=1)``.
    """
    _check_inputs(logits, labels, absent, resp, mask, slot_class)
    kernels = get_kernels(logits.device, impl)
    return _PixelLosses.apply(logits.contiguous(), resp.contiguous(), labels.contiguous(),
                              absent.contiguous(), mask.contiguous(), slot_class.contiguous(),
                              float(eps), kernels)


def _check_inputs(logits, labels, absent, resp, mask, slot_class):
    if not isinstance(logits, torch.Tensor) or logits.dim() != 4 or logits.shape[1] == 0:
        got = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f'logits must be a (B, K, H, W) tensor with K >= 1, got {got}')
    if logits.dtype not in (torch.float32, torch.float64):
        raise ValueError(f'logits must be float32 or float64, got {logits.dtype}')
    B, K, H, W = logits.shape
    S = resp.shape[1] if isinstance(resp, torch.Tensor) and resp.dim() == 4 else None
    expected = {'labels': ((B, H, W), (torch.int64, )), 'absent': ((B, K), (torch.bool, )),
                'resp': ((B, S, H, W), (logits.dtype, )), 'mask': ((B, S, H, W), (torch.bool, )),
                'slot_class': ((B, S), (torch.int64, ))}
    for name, tensor in zip(expected, (labels, absent, resp, mask, slot_class)):
        shape, dtypes = expected[name]
        if not isinstance(tensor, torch.Tensor) or tuple(tensor.shape) != shape:
            got = tuple(tensor.shape) if isinstance(tensor, torch.Tensor) else type(tensor).__name__
            raise ValueError(f'{name} must have shape {shape} to match logits '
                             f'{tuple(logits.shape)}, got {got}')
        if tensor.dtype not in dtypes:
            raise ValueError(f'{name} must be {dtypes[0]}, got {tensor.dtype}')
        if tensor.device != logits.device:
            raise ValueError(f'{name} is on {tensor.device} but logits are on {logits.device}')


def naive_agmm_pixel_losses(logits, labels, absent, resp, mask, slot_class, eps=1e-6):
    """:func:`agmm_pixel_losses` as separate autograd ops (softmax, clamped
    logs, gathers), each (B, K, H, W) or (B, S, H, W) intermediate kept for
    the backward. Arguments and result as :func:`agmm_pixel_losses`."""
    _check_inputs(logits, labels, absent, resp, mask, slot_class)
    return TorchKernels.agmm_pixel_sums(logits, labels, absent, resp, mask, slot_class, eps)
