"""Choosing the implementation: forced choices, fallback with a warning, info."""
import os
import subprocess
import sys

import pytest
import torch

from wsvision.ops import backend, gmm_log_likelihood
from wsvision.ops.backend import TorchKernels, get_kernels

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def no_compiled_kernels(monkeypatch):
    """A fresh resolver that finds no setup.py build and may not JIT-compile."""
    resolver = backend._Resolver()

    def no_prebuilt():
        resolver._prebuilt_note = 'no setup.py build (test)'

    monkeypatch.setattr(resolver, '_find_prebuilt', no_prebuilt)
    monkeypatch.setattr(backend, '_RESOLVER', resolver)
    monkeypatch.setenv('WSV_OPS_JIT', '0')
    monkeypatch.delenv('WSV_OPS_IMPL', raising=False)
    return resolver


def test_forced_torch_and_bad_names(monkeypatch):
    assert get_kernels('cpu', 'torch') is TorchKernels
    with pytest.raises(ValueError, match="impl must be one of"):
        get_kernels('cpu', 'triton')
    with pytest.raises(ValueError, match="impl='cuda' runs on cuda tensors, got cpu"):
        get_kernels('cpu', 'cuda')
    monkeypatch.setenv('WSV_OPS_IMPL', 'torch')
    assert get_kernels('cpu') is TorchKernels


def test_fallback_warns_once_and_forced_cpp_raises(no_compiled_kernels):
    feat = torch.randn(1, 2, 3, 3)
    means = torch.randn(1, 2, 2)
    with pytest.warns(RuntimeWarning, match='JIT build disabled') as record:
        out = gmm_log_likelihood(feat, means)
        gmm_log_likelihood(feat, means)
    assert len(record) == 1
    torch.testing.assert_close(out, gmm_log_likelihood(feat, means, impl='torch'))
    with pytest.raises(RuntimeError, match="impl='cpp' is unavailable: .*WSV_OPS_JIT=0"):
        get_kernels('cpu', 'cpp')


def test_describe_names_each_device(no_compiled_kernels):
    lines = backend.describe()
    assert lines['cpu'].startswith('torch reference: no setup.py build (test)')
    if not torch.cuda.is_available():
        assert lines['cuda'] == 'torch reference: no GPU'


def test_info_cli_runs_without_building():
    result = subprocess.run(
        [sys.executable, '-m', 'wsvision.ops.info'], capture_output=True, text=True,
        env=dict(os.environ, WSV_OPS_JIT='0'), cwd=REPO, timeout=120, check=True)
    lines = result.stdout.splitlines()
    assert any(line.startswith('cpu: ') for line in lines)
    assert any(line.startswith('cuda: ') for line in lines)


def test_import_looks_for_no_kernels():
    code = 'import wsvision.ops; assert not wsvision.ops.backend._RESOLVER._searched'
    subprocess.run([sys.executable, '-c', code], cwd=REPO, check=True, timeout=120)
