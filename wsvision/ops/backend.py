"""Which implementation of the fused ops runs: PyTorch reference, C++ or CUDA.

Every op in ``wsvision.ops`` has three implementations with one interface (see
:class:`TorchKernels`): the PyTorch reference, which is the ground truth of the
tests, and the compiled C++ (CPU) and CUDA kernels in ``csrc/``. The compiled
module is found, in this order:

1. ``wsvision.ops._C``, built by ``setup.py`` at install time
   (``WSV_WITH_OPS=1|0|auto``);
2. a JIT build with ``torch.utils.cpp_extension.load`` on the first call of an
   op (never on ``import wsvision``), cached in ``$TORCH_EXTENSIONS_DIR`` or
   ``~/.cache/wsvision/ops``. It takes one to two minutes;
   ``WSV_OPS_JIT=0`` turns it off;
3. neither: the PyTorch reference runs, after a one-line warning.

``impl='auto'|'torch'|'cpp'|'cuda'`` on every op, or the environment variable
``WSV_OPS_IMPL``, forces an implementation; a forced one that is unavailable
raises instead of falling back. ``python -m wsvision.ops.info`` prints what runs
on each device and why.
"""
import importlib
import os
import sys
import warnings

import torch

from ..structures import IGNORE_INDEX, UNLABELLED
from . import sources

IMPLS = ('auto', 'torch', 'cpp', 'cuda')

_HERE = os.path.dirname(os.path.abspath(__file__))


class TorchKernels:
    """PyTorch reference of the compiled kernels, with the same interface.

    Each function loops over classes, so its temporaries are (B, C, h, w): the
    (B, K, C, h, w) broadcast of the naive formulation never exists. The
    backward is written by hand (the kernels' formulas), and ``gradcheck``
    checks it against finite differences.
    """

    @staticmethod
    def gmm_distance_forward(feat, means, scale, l1):
        """S[b, k] = sum_c scale[b, k, c] * phi(feat[b, c] - means[b, k, c]).

        feat: (B, C, h, w); means, scale: (B, K, C); phi(t) = |t| if l1 else
        t^2. Returns S: (B, K, h, w).
        """
        B, _, h, w = feat.shape
        out = feat.new_empty(B, means.shape[1], h, w)
        for k in range(means.shape[1]):
            diff = feat - means[:, k, :, None, None]
            phi = diff.abs() if l1 else diff.square()
            out[:, k] = torch.einsum('bchw,bc->bhw', phi, scale[:, k])
        return out

    @staticmethod
    def gmm_distance_backward(grad, feat, means, scale, l1, need_means, need_scale):
        """Gradients of ``gmm_distance_forward`` given grad = dL/dS (B, K, h, w).

        Returns (grad_feat (B, C, h, w), grad_means (B, K, C) or None,
        grad_scale (B, K, C) or None): a parameter gradient is computed only
        where ``need_means`` / ``need_scale`` asks for it. phi'(0) = 0 for l1,
        as for ``torch.abs``.
        """
        grad_feat = torch.zeros_like(feat)
        grad_means = torch.empty_like(means) if need_means else None
        grad_scale = torch.empty_like(scale) if need_scale else None
        for k in range(means.shape[1]):
            diff = feat - means[:, k, :, None, None]
            phi_grad = diff.sign() if l1 else 2 * diff
            grad_phi_grad = grad[:, k, None] * phi_grad  # (B, C, h, w)
            grad_feat.addcmul_(grad_phi_grad, scale[:, k, :, None, None])
            if need_means:
                grad_means[:, k] = -scale[:, k] * grad_phi_grad.sum((2, 3))
            if need_scale:
                phi = diff.abs() if l1 else diff.square()
                grad_scale[:, k] = torch.einsum('bhw,bchw->bc', grad[:, k], phi)
        return grad_feat, grad_means, grad_scale

    @staticmethod
    def segment_sum_forward(feat, segment, num_segments):
        """sums[b, k, c] = sum of feat[b, c, p] over pixels with segment[b, p] == k.

        feat: (B, C, h, w); segment: (B, h * w) int32, -1 = skip. Returns
        (B, K, C), as one ``index_add_`` over the valid pixels.
        """
        B, C = feat.shape[:2]
        valid = segment >= 0
        rows = (torch.arange(B, device=feat.device)[:, None] * num_segments + segment)[valid]
        pixels = feat.flatten(2).transpose(1, 2)[valid]  # (n_valid, C)
        sums = feat.new_zeros(B * num_segments, C).index_add_(0, rows, pixels)
        return sums.view(B, num_segments, C)

    @staticmethod
    def segment_sum_backward(grad_sums, segment, channels):
        """grad_feat[b, c, p] = grad_sums[b, segment[b, p], c], 0 where segment is -1.

        Returns (B, C, h * w).
        """
        gathered = torch.gather(grad_sums, 1, segment.clamp(min=0).long()[..., None].expand(
            -1, -1, channels))  # (B, h * w, C)
        return (gathered * (segment >= 0)[..., None]).transpose(1, 2)

    @staticmethod
    def _pixel_terms(logits, labels, mask, slot_class):
        """What the sums and the backward share: (p, valid, labelled, the
        slots' mask, the slots' class index (B, S, H, W), p of each slot's
        class). Padding (``IGNORE_INDEX``) counts nowhere, nor does a slot of a class
        outside [0, K)."""
        K = logits.shape[1]
        valid = labels != IGNORE_INDEX
        labelled = valid & (labels >= 0) & (labels < K) & (labels != UNLABELLED)
        prob = logits.softmax(1)
        slot_ok = (slot_class >= 0) & (slot_class < K)
        slot_mask = mask & valid[:, None] & slot_ok[..., None, None]
        index = slot_class.clamp(0, K - 1)[..., None, None].expand(-1, -1, *labels.shape[1:])
        return prob, valid, labelled, slot_mask, index, prob.gather(1, index)

    @staticmethod
    def agmm_pixel_sums(logits, labels, absent, resp, mask, slot_class, eps):
        """The four sums of the AGMM pixel losses as plain autograd ops, and
        their four counts: ((4,), (4,)) in logits' dtype.

        logits: (B, K, H, W); labels: (B, H, W) int64 (254 unlabelled, 255
        padding); absent: (B, K) bool; resp, mask: (B, S, H, W) responses and
        bool mask of the slots of classes slot_class (B, S). Sums: ce (-log p_y
        on labelled pixels), absent (-log(1 - p_k) over absent k, valid
        pixels), sbce (BCE(p, r) + BCE(r, p) over the mask), label (BCE(r,
        [y == k]) over the mask on labelled pixels); every log clamped at eps.
        Counts: labelled pixels, valid pixels, mask entries, mask entries on
        labelled pixels.
        """
        def clog(x):
            return x.clamp(min=eps).log()

        prob, valid, labelled, slot_mask, _, q = TorchKernels._pixel_terms(
            logits, labels, mask, slot_class)
        log_prob = logits.log_softmax(1)
        y = labels.clamp(0, logits.shape[1] - 1)[:, None]
        ce = -(log_prob.gather(1, y)[:, 0] * labelled).sum()
        absent_sum = -(clog(1 - prob) * absent[..., None, None] * valid[:, None]).sum()
        sbce = -((resp * clog(q) + (1 - resp) * clog(1 - q) + q * clog(resp)
                  + (1 - q) * clog(1 - resp)) * slot_mask).sum()
        one_hot = labels[:, None] == slot_class[..., None, None]
        label_mask = slot_mask & labelled[:, None]
        label = -(torch.where(one_hot, clog(resp), clog(1 - resp)) * label_mask).sum()
        counts = torch.stack([labelled.sum(), valid.sum(), slot_mask.sum(), label_mask.sum()])
        return torch.stack([ce, absent_sum, sbce, label]), counts.to(logits.dtype)

    @staticmethod
    def agmm_pixel_forward(logits, labels, absent, resp, mask, slot_class, eps):
        """``agmm_pixel_sums`` as the kernels return it: (8,) float64, the
        sums then the counts."""
        with torch.no_grad():
            sums, counts = TorchKernels.agmm_pixel_sums(logits, labels, absent, resp, mask,
                                                        slot_class, eps)
        return torch.cat([sums, counts]).double()

    @staticmethod
    def agmm_pixel_backward(grad_sums, logits, labels, absent, resp, mask, slot_class, eps):
        """Gradients of grad_sums . sums (the four sums of
        ``agmm_pixel_forward``) w.r.t. logits and resp, with the clamp's rule:
        d/dx log(max(x, eps)) = 1/x where x >= eps, else 0."""
        def clog(x):
            return x.clamp(min=eps).log()

        def dclog(x):
            return (x >= eps) / x.clamp(min=eps)

        g_ce, g_absent, g_sbce, g_label = grad_sums.tolist()
        prob, valid, labelled, slot_mask, index, q = TorchKernels._pixel_terms(
            logits, labels, mask, slot_class)
        # G = dL/dp, then through the softmax: dL/dz = p (G - sum_k p_k G_k).
        grad_q = -g_sbce * (resp * dclog(q) - (1 - resp) * dclog(1 - q) + clog(resp)
                            - clog(1 - resp)) * slot_mask
        grad_prob = (g_absent * dclog(1 - prob) * absent[..., None, None]).scatter_add(
            1, index, grad_q)
        grad_logits = prob * (grad_prob - (prob * grad_prob).sum(1, keepdim=True))
        one_hot = torch.zeros_like(prob).scatter_(1, labels.clamp(0, logits.shape[1] - 1)[:, None],
                                                  1.0)
        grad_logits += g_ce * (prob - one_hot) * labelled[:, None]
        grad_logits *= valid[:, None]
        is_class = labels[:, None] == slot_class[..., None, None]
        d_log_r, d_log_s = dclog(resp), -dclog(1 - resp)
        grad_resp = -g_sbce * (clog(q) - clog(1 - q) + q * d_log_r + (1 - q) * d_log_s) * slot_mask
        grad_resp -= g_label * torch.where(is_class, d_log_r, d_log_s) * (
            slot_mask & labelled[:, None])
        return grad_logits, grad_resp


class _Resolver:
    """Finds the compiled module once and remembers why each option failed."""

    def __init__(self):
        self._searched = False
        self._prebuilt = None
        self._prebuilt_note = ''
        self._jit = None
        self._jit_note = ''
        self._warned = set()

    def _find_prebuilt(self):
        try:
            self._prebuilt = importlib.import_module('wsvision.ops._C')
            self._prebuilt_note = 'compiled extension (setup.py build)'
        except ImportError as exc:
            self._prebuilt_note = f'no setup.py build ({exc})'

    def _build_jit(self, with_cuda):
        from torch.utils import cpp_extension
        flavour = 'cuda' if with_cuda else 'cpu'
        build_dir = None
        if not os.environ.get('TORCH_EXTENSIONS_DIR'):
            build_dir = os.path.join(
                os.path.expanduser('~'), '.cache', 'wsvision', 'ops',
                f'torch{torch.__version__}-{flavour}')
            os.makedirs(build_dir, exist_ok=True)
        names = sources.CPP_SOURCES + (sources.CUDA_SOURCES if with_cuda else ())
        defines = [sources.CUDA_DEFINE] if with_cuda else []
        print(f'wsvision.ops: loading the {flavour} kernels (JIT-compiled on first use in '
              '1-2 min, then cached; WSV_OPS_JIT=0 skips this)', file=sys.stderr)
        self._jit = cpp_extension.load(
            name=f'wsvision_ops_{flavour}', sources=[os.path.join(_HERE, n) for n in names],
            extra_cflags=[*sources.CXX_FLAGS, *defines],
            extra_cuda_cflags=[*sources.NVCC_FLAGS, *defines],
            extra_ldflags=list(sources.LINK_FLAGS), build_directory=build_dir,
            verbose=False)
        self._jit_note = f'JIT-compiled extension ({build_dir or "TORCH_EXTENSIONS_DIR"})'

    def _search(self):
        if self._searched:
            return
        self._searched = True
        self._find_prebuilt()
        prebuilt_serves_cuda = self._prebuilt is not None and self._prebuilt.with_cuda()
        want_cuda = torch.cuda.is_available() and cuda_compiler_found()
        if self._prebuilt is not None and (prebuilt_serves_cuda or not want_cuda):
            return
        if os.environ.get('WSV_OPS_JIT', '1') == '0':
            self._jit_note = 'JIT build disabled (WSV_OPS_JIT=0)'
            return
        try:
            self._build_jit(with_cuda=want_cuda)
        except Exception as exc:  # a compiler error must not break training
            self._jit_note = f'JIT build failed: {type(exc).__name__}: {_first_line(exc)}'

    def module_for(self, device_type):
        """(module or None, why) for 'cpu' or 'cuda' tensors."""
        self._search()
        if device_type == 'cuda':
            for module, note in ((self._prebuilt, self._prebuilt_note),
                                 (self._jit, self._jit_note)):
                if module is not None and module.with_cuda():
                    return module, note
            if not torch.cuda.is_available():
                return None, 'no GPU'
            if not cuda_compiler_found():
                return None, 'no CUDA toolkit to build with (set CUDA_HOME to where bin/nvcc is)'
            return None, self._jit_note or self._prebuilt_note
        for module, note in ((self._prebuilt, self._prebuilt_note),
                             (self._jit, self._jit_note)):
            if module is not None:
                return module, note
        return None, f'{self._prebuilt_note}; {self._jit_note}'

    def warn_once(self, device_type, why):
        if device_type not in self._warned:
            self._warned.add(device_type)
            warnings.warn(f'wsvision.ops: running the PyTorch reference on {device_type} '
                          f'(compiled kernels unavailable: {why})', RuntimeWarning,
                          stacklevel=4)


_RESOLVER = _Resolver()


def _first_line(exc):
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ''


def cuda_compiler_found():
    """Whether torch's cpp_extension found a CUDA toolkit (nvcc and headers).

    torch guesses ``CUDA_HOME`` from the location of ``nvcc`` when the
    variable is unset; a wrapper script on the PATH can mislead it, so the
    headers are checked too. Set ``CUDA_HOME`` (e.g. /usr/local/cuda) then.
    """
    from torch.utils.cpp_extension import CUDA_HOME
    return CUDA_HOME is not None and all(
        os.path.exists(os.path.join(CUDA_HOME, *part))
        for part in (('bin', 'nvcc'), ('include', 'cuda_runtime.h')))


def get_kernels(device, impl=None):
    """The kernels to run for tensors on ``device``.

    Args:
        device (torch.device): device of the op's inputs.
        impl (str | None): 'auto', 'torch', 'cpp' or 'cuda'; None reads
            ``WSV_OPS_IMPL`` (default 'auto').

    Returns:
        :class:`TorchKernels` or the compiled module (same interface).
    """
    impl = impl or os.environ.get('WSV_OPS_IMPL', 'auto')
    if impl not in IMPLS:
        raise ValueError(f'impl must be one of {IMPLS}, got {impl!r}')
    if impl == 'torch':
        return TorchKernels
    device_type = torch.device(device).type
    if impl != 'auto':
        expected = 'cpu' if impl == 'cpp' else 'cuda'
        if device_type != expected:
            raise ValueError(f"impl='{impl}' runs on {expected} tensors, got {device_type} "
                             'tensors')
    module, why = _RESOLVER.module_for(device_type)
    if module is not None:
        return module
    if impl != 'auto':
        raise RuntimeError(f"impl='{impl}' is unavailable: {why}")
    _RESOLVER.warn_once(device_type, why)
    return TorchKernels


def describe():
    """{'cpu': line, 'cuda': line}: the implementation each device runs, and why."""
    lines = {}
    for device_type in ('cpu', 'cuda'):
        if device_type == 'cuda' and not torch.cuda.is_available():
            lines[device_type] = 'torch reference: no GPU'
            continue
        module, why = _RESOLVER.module_for(device_type)
        lines[device_type] = why if module is not None else f'torch reference: {why}'
    forced = os.environ.get('WSV_OPS_IMPL')
    if forced and forced != 'auto':
        lines['forced'] = f'WSV_OPS_IMPL={forced} overrides the choice above'
    return lines
