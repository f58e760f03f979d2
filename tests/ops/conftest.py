"""Fixtures of the fused-op tests: the compiled kernels, built once per session."""
import pytest
import torch

from wsvision.ops import backend


@pytest.fixture(scope='session')
def cpp_kernels():
    """The compiled C++ kernels: the setup.py build, or a JIT build once per session.

    Skips, with the reason, where neither exists (no compiler, WSV_OPS_JIT=0).
    """
    module, why = backend._RESOLVER.module_for('cpu')
    if module is None:
        pytest.skip(f'C++ kernels unavailable: {why}')
    return module


@pytest.fixture(scope='session')
def cuda_kernels():
    if not torch.cuda.is_available():
        pytest.skip('no GPU')
    module, why = backend._RESOLVER.module_for('cuda')
    if module is None:
        pytest.skip(f'CUDA kernels unavailable: {why}')
    return module

