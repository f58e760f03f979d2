"""The loss-path benchmark compares equal computations: the loop + broadcast
variant gives the same loss terms and gradients as the fused one."""
import pytest
import torch

from tests.conftest import load_tool


@pytest.mark.parametrize('plus', [False, True])
def test_loop_and_broadcast_pattern_matches_fused_loss(plus):
    bench = load_tool('benchmarks', 'bench_agmm_loss.py')
    s = dict(B=2, K=5, C=8, size=64, feat=16)
    gen = torch.Generator().manual_seed(3)
    logits = torch.randn(s['B'], s['K'], s['size'], s['size'], generator=gen, requires_grad=True)
    feat = torch.randn(s['B'], s['C'], s['feat'], s['feat'], generator=gen, requires_grad=True)
    samples = bench.data_samples(bench.scribble_labels(s, seed=4), 'cpu')

    def terms_and_grads():
        torch.manual_seed(0)
        terms = bench.build_loss(s, plus, 'cpu')(seg_logits=logits, feat=feat,
                                                   data_samples=samples)
        grads = torch.autograd.grad(sum(terms.values()), (logits, feat))
        return {k: v.item() for k, v in terms.items()}, grads

    fused_terms, fused_grads = terms_and_grads()
    with bench.reference_pattern():
        loop_terms, loop_grads = terms_and_grads()
    assert fused_terms.keys() == loop_terms.keys()
    for name in fused_terms:
        assert loop_terms[name] == pytest.approx(fused_terms[name], rel=1e-4, abs=1e-6), name
    assert fused_terms['loss_label'] != 0  # the labels reach the GMM terms
    for a, b in zip(fused_grads, loop_grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_loop_class_mean_matches_masked_class_mean():
    from wsvision.ops import masked_class_mean
    bench = load_tool('benchmarks', 'bench_agmm_loss.py')
    feat = torch.randn(3, 4, 7, 9)
    labels = torch.randint(0, 5, (3, 7, 9))
    labels[0] = 254  # an image with no labelled pixel
    labels[1, :3] = 255
    means, counts = masked_class_mean(feat, labels, 5)
    loop_means, loop_counts = bench.loop_class_mean(feat, labels, 5)
    torch.testing.assert_close(loop_means, means)
    torch.testing.assert_close(loop_counts, counts.to(loop_counts.dtype))


def test_anchor_speedup_hand_example(tmp_path):
    """The issue's step speed-up: (anchor model + anchor reference loss) over
    the fused step, and over the anchor model plus the fused loss's share."""
    import json
    bench = load_tool('benchmarks', 'bench_agmm_loss.py')
    anchor = tmp_path / 'anchor.json'
    anchor.write_text(json.dumps({'training_step': {
        'deeplabv3_r101_os8_b16_321_fwd_bwd_ms': 100.0, 'reference_agmm_loss_path_ms': 200.0}}))
    steps = {'model (partial CE only)': {'ms': 120.0}, 'model + fused loss': {'ms': 150.0}}
    result = bench.anchor_speedup(str(anchor), steps)
    assert result['reference_step_ms'] == 300.0
    assert result['fused_loss_in_step_ms'] == 30.0
    assert result['speedup_this_model'] == pytest.approx(2.0)
    assert result['speedup_anchor_model'] == pytest.approx(300.0 / 130.0)


def test_plot_is_written(tmp_path):
    bench = load_tool('benchmarks', 'bench_agmm_loss.py')
    result = dict(setting='cpu', card=None,
                  loss_path={'fused': dict(ms=1.0, peak_mib=None)},
                  training_step={'model + fused loss': dict(ms=3.0, peak_mib=12.0)})
    bench.save_plot(result, str(tmp_path / 'plot.png'))
    assert (tmp_path / 'plot.png').stat().st_size > 1000


def test_cpu_peak_memory_follows_the_live_tensors():
    """The CPU peak-memory probe of the benchmarks (fresh process): a call that
    holds a 64 MiB tensor at its peak adds about 64 MiB, one that frees each
    8 MiB block before the next adds about 8 MiB."""
    import subprocess
    import sys
    from tests.conftest import REPO
    script = (
        "import sys, torch\n"
        "sys.path.insert(0, 'tools/benchmarks')\n"
        "from common import cpu_peak_extra_mib, mmap_large_cpu_blocks\n"
        "mmap_large_cpu_blocks()\n"
        "def held(): x = torch.ones(16 * 2**20); return float(x[0])\n"
        "def freed():\n"
        "    for _ in range(8): torch.ones(2 * 2**20).sum()\n"
        "print(cpu_peak_extra_mib(held), cpu_peak_extra_mib(freed))\n")
    out = subprocess.run([sys.executable, '-c', script], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout.split()
    held, freed = map(float, out)
    assert 60 <= held <= 72
    assert 6 <= freed <= 14
