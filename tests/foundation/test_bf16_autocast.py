"""BF16AutocastOptimWrapper: bfloat16 forward on CPU, float32 losses, --amp."""
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from tests.conftest import (REPO, SEG_CONFIG, small_seg_config,
                            small_seg_options)
from wsvision.engine import optim_wrapper as ow
from wsvision.registry import MODELS, OPTIM_WRAPPERS
from wsvision.structures import PixelData, SegDataSample


def build(data_root, tmp_path, enabled):
    init_default_scope('wsvision')
    cfg = small_seg_config(data_root, str(tmp_path))
    model = MODELS.build(cfg.model)
    wrapper = OPTIM_WRAPPERS.build(dict(
        type='BF16AutocastOptimWrapper', enabled=enabled,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1)))
    return model, wrapper


def batch(n=2, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randn(n, 3, size, size, generator=g)
    samples = []
    for _ in range(n):
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, 11, (1, size, size), generator=g))
        samples.append(sample)
    return inputs, samples


def gradients(data_root, tmp_path, enabled):
    """Logits dtype, loss dtypes and the flat gradient of one training step,
    from the same initial weights (seeded) and batch."""
    torch.manual_seed(0)
    model, wrapper = build(data_root, tmp_path, enabled)
    inputs, samples = batch()
    with wrapper.optim_context(model):
        logits, _ = model.encode_decode(inputs)
        losses = model.loss(inputs, samples)
    wrapper.backward(sum(losses.values()))
    grad = torch.cat([p.grad.flatten() for p in model.parameters()
                      if p.grad is not None])
    assert all(p.dtype == torch.float32 for p in model.parameters())
    return logits.dtype, {v.dtype for v in losses.values()}, grad


def test_bf16_forward_float32_losses_and_matching_gradients(tiny_scenes,
                                                            tmp_path):
    dtype, loss_dtypes, grad = gradients(tiny_scenes, tmp_path, True)
    assert dtype == torch.bfloat16 and loss_dtypes == {torch.float32}
    dtype, loss_dtypes, reference = gradients(tiny_scenes, tmp_path, False)
    assert dtype == torch.float32 and loss_dtypes == {torch.float32}
    assert grad.shape == reference.shape and grad.abs().sum() > 0
    assert not torch.equal(grad, reference)  # the bf16 path really ran
    cosine = torch.nn.functional.cosine_similarity(grad, reference, dim=0)
    # bfloat16 keeps 8 mantissa bits: 0.98 on this random network, while the
    # gradients of two different batches are far apart (checked below).
    assert cosine > 0.95, f'bf16 and float32 gradients differ: cos {cosine}'


def test_auto_falls_back_to_float32_without_native_units(
        tiny_scenes, tmp_path, monkeypatch):
    monkeypatch.setattr(ow, 'bf16_native', lambda device_type='cpu': False)
    model, wrapper = build(tiny_scenes, tmp_path, 'auto')
    with wrapper.optim_context(model):
        logits, _ = model.encode_decode(batch()[0])
    assert logits.dtype == torch.float32
    monkeypatch.setattr(ow, 'bf16_native', lambda device_type='cpu': True)
    with wrapper.optim_context(model):
        logits, _ = model.encode_decode(batch()[0])
    assert logits.dtype == torch.bfloat16


def test_bad_enabled_value_names_the_key(tiny_scenes, tmp_path):
    with pytest.raises(ValueError, match='optim_wrapper.enabled'):
        build(tiny_scenes, tmp_path, 'yes')


def test_train_cli_amp_on_cpu(tiny_scenes, tmp_path, cli_env):
    cmd = [sys.executable, f'{REPO}/tools/train.py', SEG_CONFIG, '--amp',
           '--work-dir', str(tmp_path),
           '--cfg-options', *small_seg_options(tiny_scenes, max_iters=2)]
    result = subprocess.run(cmd, env=cli_env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    cfg = Config.fromfile(next(tmp_path.glob('*/vis_data/config.py')))
    assert cfg.optim_wrapper.type == 'BF16AutocastOptimWrapper'
    assert cfg.optim_wrapper.enabled is True
    state = torch.load(tmp_path / 'iter_2.pth', map_location='cpu',
                       weights_only=True)
    assert all(t.dtype != torch.bfloat16 for t in state['state_dict'].values())


def test_gradient_check_tells_batches_apart(tiny_scenes, tmp_path):
    """The 0.95 bound above is meaningful: another batch's gradient fails it."""
    _, _, reference = gradients(tiny_scenes, tmp_path, False)
    torch.manual_seed(0)
    model, wrapper = build(tiny_scenes, tmp_path, False)
    inputs, samples = batch(seed=1)
    with wrapper.optim_context(model):
        wrapper.backward(sum(model.loss(inputs, samples).values()))
    other = torch.cat([p.grad.flatten() for p in model.parameters()
                       if p.grad is not None])
    cosine = torch.nn.functional.cosine_similarity(other, reference, dim=0)
    assert cosine < 0.95, cosine
