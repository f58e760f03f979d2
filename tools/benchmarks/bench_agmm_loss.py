"""Benchmark the whole AGMM loss path and an AGMM training step.

    python tools/benchmarks/bench_agmm_loss.py --device cuda --setting voc --out work_dirs/bench_agmm_loss
    python tools/benchmarks/bench_agmm_loss.py --device cpu --setting cpu --out work_dirs/bench_agmm_loss

The loss path is ``AGMMLoss`` forward + backward (class centres, GMM
responses, every loss term) on network outputs of the setting's shape,
with scribble-like labels (strokes of 1-4 classes plus background on about
5% of the pixels, the rest unlabelled). It runs in these variants:

- ``loop+broadcast``: the same loss, with the computation pattern of the
  CVPR reference code: class centres by a Python loop over images and
  classes, GMM responses by broadcasting (B, K, C, h, w), and the
  pixel-level terms as separate autograd ops (``naive_agmm_pixel_losses``);
- ``fused``: wsvision's ``masked_class_mean``, ``gmm_log_likelihood`` and
  ``agmm_pixel_losses`` (CUDA or C++ kernels);
- ``fused, AGMM++``: the AGMM++ loss (mixture, EM update, maximisation
  loss and pseudo-labels) with the fused kernels.

``--step`` also times one training step (forward + backward) of a
DeepLabV3+ on ResNet-101 (``--depth``; output stride 8, 256-channel head) at
the setting's batch and crop, with each loss variant; the model alone is timed
with the partial cross-entropy only. ``--profile`` adds an operator table of
each fused loss path (torch.profiler); ``--compile`` adds the fused CVPR
loss under ``torch.compile`` (its graph breaks at the host syncs and the
fused ops). Times are medians after a warm-up;
memory is the peak the call adds over its inputs: the CUDA allocator's peak,
or on the CPU the peak resident set of the loss path in a fresh process
(``common.cpu_peak_extra_mib``; the training step's is not measured there). A table is
printed; a JSON and a PNG bar plot are written to ``--out``.
"""
import argparse
import json
import multiprocessing
import os
import os.path as osp
import statistics
import sys
import time
from contextlib import contextmanager, nullcontext

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from common import (cpu_peak_extra_mib, mmap_large_cpu_blocks, pyplot,  # noqa: E402
                    save_figure)
from mmengine.structures import PixelData  # noqa: E402

import wsvision.models.losses.agmm as agmm_module  # noqa: E402
from wsvision.ops import naive_agmm_pixel_losses, naive_gmm_log_likelihood  # noqa: E402
from wsvision.registry import MODELS  # noqa: E402
from wsvision.structures import UNLABELLED, SegDataSample  # noqa: E402

SETTINGS = {
    # The paper's VOC setting: crop 321, output stride 8 features at 81 x 81.
    'voc': dict(B=16, K=21, C=256, size=321, feat=81),
    'cpu': dict(B=4, K=21, C=64, size=161, feat=41),
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', choices=['cpu', 'cuda'], default='cpu')
    parser.add_argument('--setting', choices=sorted(SETTINGS), default='cpu')
    parser.add_argument('--repeats', type=int, default=None,
                        help='timed runs per variant (default: 3 on cpu, 10 on cuda)')
    parser.add_argument('--threads', type=int, default=2, help='CPU threads (torch)')
    parser.add_argument('--step', action='store_true',
                        help='also time a DeepLabV3+ training step (--depth) with each loss')
    parser.add_argument('--depth', type=int, default=101, choices=[50, 101],
                        help='ResNet depth of the --step model (the issue\'s anchor: R101)')
    parser.add_argument('--compile', action='store_true',
                        help='also time the fused CVPR loss path under torch.compile')
    parser.add_argument('--profile', action='store_true',
                        help='also print and save an operator profile of the fused loss paths')
    parser.add_argument('--anchor', default=None,
                        help='agmm_reference_h200.json: with --step, also print the speed-up '
                             'over the anchor\'s reference step (model + reference loss path)')
    parser.add_argument('--out', default=None, help='folder for the JSON, the PNG (and profiles)')
    return parser.parse_args()


def loop_class_mean(feat, labels, num_classes, ignore=None, impl=None, check_labels=True):
    """Class centres the way the reference computes them: a Python loop over
    images and classes (same result as ``masked_class_mean``)."""
    B, C = feat.shape[:2]
    means, counts = [], []
    for b in range(B):
        row_means, row_counts = [], []
        for k in range(num_classes):
            mask = labels[b] == k
            n = mask.sum()
            row_counts.append(n)
            row_means.append(feat[b][:, mask].sum(1) / n.clamp(min=1))
        means.append(torch.stack(row_means))
        counts.append(torch.stack(row_counts))
    return torch.stack(means), torch.stack(counts).to(feat.dtype)


@contextmanager
def reference_pattern():
    """Swap the loss module's kernels for the loop, broadcast and separate-op versions."""
    names = ('masked_class_mean', 'gmm_log_likelihood', 'agmm_pixel_losses')
    saved = {name: getattr(agmm_module, name) for name in names}
    agmm_module.masked_class_mean = loop_class_mean
    agmm_module.gmm_log_likelihood = (
        lambda feat, means, log_var=None, log_pi=None, dist='sq_l2', valid_mask=None, impl=None:
        naive_gmm_log_likelihood(feat, means, log_var, log_pi, dist=dist, valid_mask=valid_mask))
    agmm_module.agmm_pixel_losses = naive_agmm_pixel_losses
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(agmm_module, name, fn)


def scribble_labels(s, seed=0):
    """(B, size, size) int64: strokes of 1-4 classes plus background, rest unlabelled."""
    gen = torch.Generator().manual_seed(seed)
    B, K, size = s['B'], s['K'], s['size']
    labels = torch.full((B, size, size), UNLABELLED, dtype=torch.long)
    for b in range(B):
        classes = [0] + (1 + torch.randperm(K - 1, generator=gen)[:int(
            torch.randint(1, 5, (1, ), generator=gen))]).tolist()
        for k in classes:
            for _ in range(3):  # three strokes of width 3 per class
                r0, c0 = torch.randint(0, size - 60, (2, ), generator=gen).tolist()
                length = int(torch.randint(20, 60, (1, ), generator=gen))
                if torch.rand(1, generator=gen) < 0.5:
                    labels[b, r0:r0 + 3, c0:c0 + length] = k
                else:
                    labels[b, r0:r0 + length, c0:c0 + 3] = k
    return labels


def data_samples(labels, device):
    samples = []
    for label in labels:
        sample = SegDataSample()
        sample.gt_weak_seg = PixelData(data=label[None].to(device))
        samples.append(sample)
    return samples


def build_loss(s, plus, device):
    loss = MODELS.build(dict(type='AGMMLoss', num_classes=s['K'], feat_channels=s['C'],
                             reference_mode=not plus, warmup_iters=0))
    return loss.to(device)


def measure(fn, device, repeats):
    """(median ms, peak extra MiB or None) of fn() after one warm-up call."""
    fn()
    times = []
    if device == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    for _ in range(repeats):
        if device == 'cuda':
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if device == 'cuda':
            torch.cuda.synchronize()
        times.append(1e3 * (time.perf_counter() - t0))
    peak = (torch.cuda.max_memory_allocated() - base) / 2**20 if device == 'cuda' else None
    return statistics.median(times), peak


def loss_path_fns(s, device, compile_loss=False):
    """{variant: fn}: each fn runs one loss-path forward + backward."""
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(s['B'], s['K'], s['size'], s['size'], generator=gen).to(device)
    feat = torch.randn(s['B'], s['C'], s['feat'], s['feat'], generator=gen).to(device)
    logits.requires_grad_(True)
    feat.requires_grad_(True)
    samples = data_samples(scribble_labels(s), device)

    def run(loss, reference=False):
        def fn():
            with reference_pattern() if reference else nullcontext():
                terms = loss(seg_logits=logits, feat=feat, data_samples=samples)
                torch.autograd.grad(sum(terms.values()), (logits, feat))
        return fn

    fns = {'loop+broadcast': run(build_loss(s, False, device), reference=True),
           'fused': run(build_loss(s, False, device)),
           'fused, AGMM++': run(build_loss(s, True, device))}
    if compile_loss:
        fns['fused, torch.compile'] = run(torch.compile(build_loss(s, False, device)))
    return fns


def cpu_loss_path_peak_mib(setting, variant):
    """Peak resident memory (MiB) one call of a loss-path variant adds on the
    CPU, in a fresh process (``common.cpu_peak_extra_mib``); it matches the
    CUDA allocator's peak of the same call to within a few MiB."""
    mmap_large_cpu_blocks()
    torch.set_num_threads(1)
    return cpu_peak_extra_mib(loss_path_fns(SETTINGS[setting], 'cpu')[variant])


def loss_path(s, device, repeats, compile_loss=False, setting=None):
    """{variant: (median ms, peak extra MiB)} and the fused variants' fns."""
    fns = loss_path_fns(s, device, compile_loss)
    rows = {name: measure(fn, device, repeats) for name, fn in fns.items()}
    if device == 'cpu' and setting is not None:
        with multiprocessing.get_context('spawn').Pool(1) as pool:
            for name in ('loop+broadcast', 'fused', 'fused, AGMM++'):
                rows[name] = (rows[name][0],
                              pool.apply(cpu_loss_path_peak_mib, (setting, name)))
    return rows, {name: fn for name, fn in fns.items() if name != 'loop+broadcast'}


def profile(fns, device, out, setting, top=15):
    """Operator table of each fused loss path (three calls after a warm-up):
    where its time goes. Printed (top rows) and written to --out."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == 'cuda' else [])
    key = 'self_device_time_total' if device == 'cuda' else 'self_cpu_time_total'
    for name, fn in fns.items():
        fn()
        with torch_profile(activities=activities) as prof:
            for _ in range(3):
                fn()
            if device == 'cuda':
                torch.cuda.synchronize()
        averages = prof.key_averages()
        table = averages.table(sort_by=key, row_limit=40)
        print(f'profile of {name!r} (3 calls), by {key}:')
        print('\n'.join(table.splitlines()[:top + 3]))
        if out:
            os.makedirs(out, exist_ok=True)
            tag = name.replace(', ', '_').replace('+', 'plus')
            with open(osp.join(out, f'profile_{tag}_{setting}_{device}.txt'), 'w') as f:
                f.write(table)
                if device == 'cuda':  # where the host's time goes, too
                    f.write('\nby self_cpu_time_total:\n')
                    f.write(averages.table(sort_by='self_cpu_time_total', row_limit=40))


def training_step(s, device, repeats, depth):
    def model(losses):
        return MODELS.build(dict(
            type='EncoderDecoder',
            backbone=dict(type='ResNet', depth=depth, base_channels=64,
                          strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4)),
            decode_head=dict(type='DeepLabV3PlusHead', in_channels=2048,
                             low_level_channels=256, channels=s['C'],
                             dilations=(12, 24, 36), num_classes=s['K']),
            losses=losses)).to(device).train()

    gen = torch.Generator().manual_seed(2)
    inputs = torch.randn(s['B'], 3, s['size'], s['size'], generator=gen).to(device)
    samples = data_samples(scribble_labels(s), device)
    agmm = dict(type='AGMMLoss', num_classes=s['K'], feat_channels=s['C'],
                reference_mode=True, warmup_iters=0)

    def run(net):
        def fn():
            net.zero_grad(set_to_none=True)
            sum(net.loss(inputs, samples).values()).backward()
        return fn

    rows = {'model (partial CE only)': measure(
        run(model([dict(type='PartialCrossEntropyLoss')])), device, repeats)}
    with reference_pattern():
        rows['model + loop+broadcast loss'] = measure(run(model([agmm])), device, repeats)
    rows['model + fused loss'] = measure(run(model([agmm])), device, repeats)
    return rows


def save_plot(result, path):
    """Bar plot of the loss-path (and training-step) times, peak memory in the labels."""
    plt = pyplot()
    sections = [k for k in ('loss_path', 'training_step') if k in result]
    fig, axes = plt.subplots(1, len(sections), figsize=(6 * len(sections), 3.5), squeeze=False)
    for ax, section in zip(axes[0], sections):
        rows = result[section]
        names = [name if rows[name]['peak_mib'] is None
                 else f"{name}\n(+{rows[name]['peak_mib']:.0f} MiB)" for name in rows]
        ax.barh(names, [row['ms'] for row in rows.values()])
        ax.invert_yaxis()
        ax.set_xlabel('ms (median)')
        ax.set_title(section.replace('_', ' '))
    fig.suptitle(f"AGMM loss, {result['setting']} setting on {result['card'] or 'cpu'}")
    save_figure(fig, path)


def anchor_speedup(path, steps):
    """The issue's step speed-up: the anchor's reference step (its model's
    step plus the reference code's loss path, both measured by the anchor)
    over the step with the fused loss. With this model's own step time, and
    with the anchor's model time plus the fused loss's share of this step."""
    with open(path) as f:
        anchor = json.load(f)['training_step']
    model_ms = anchor['deeplabv3_r101_os8_b16_321_fwd_bwd_ms']
    loss_ms = anchor['reference_agmm_loss_path_ms']
    fused_step = steps['model + fused loss']['ms']
    fused_share = fused_step - steps['model (partial CE only)']['ms']
    return dict(anchor_model_ms=model_ms, anchor_loss_ms=loss_ms,
                reference_step_ms=model_ms + loss_ms, fused_loss_in_step_ms=fused_share,
                speedup_this_model=(model_ms + loss_ms) / fused_step,
                speedup_anchor_model=(model_ms + loss_ms) / (model_ms + fused_share))


def main():
    args = parse_args()
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('--device cuda: no CUDA device is visible')
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    s = SETTINGS[args.setting]
    repeats = args.repeats or (10 if args.device == 'cuda' else 3)
    result = dict(setting=args.setting, shape=s, device=args.device, torch=torch.__version__,
                  card=torch.cuda.get_device_name() if args.device == 'cuda' else None,
                  ops_impl=os.environ.get('WSV_OPS_IMPL', 'auto'), repeats=repeats)
    rows, fused = loss_path(s, args.device, repeats, args.compile, args.setting)
    result['loss_path'] = {k: dict(ms=t, peak_mib=m) for k, (t, m) in rows.items()}
    if args.step:
        result['step_model'] = f'DeepLabV3+ R{args.depth} OS8'
        result['training_step'] = {k: dict(ms=t, peak_mib=m) for k, (t, m)
                                   in training_step(s, args.device, repeats, args.depth).items()}
        steps = result['training_step']
        result['step_speedup'] = (steps['model + loop+broadcast loss']['ms']
                                  / steps['model + fused loss']['ms'])
    print(f"AGMM loss path, setting {args.setting} {s}, {result['card'] or 'cpu'}"
          + (f", step model {result['step_model']}" if args.step else ''))
    print(f"{'variant':32s} {'ms':>9s} {'peak MiB':>10s}")
    for section in ('loss_path', 'training_step'):
        for name, row in result.get(section, {}).items():
            peak = '-' if row['peak_mib'] is None else f"{row['peak_mib']:.0f}"
            print(f"{name:32s} {row['ms']:9.2f} {peak:>10s}")
    if 'step_speedup' in result:
        print(f"training step speed-up, fused vs loop+broadcast: {result['step_speedup']:.2f}x")
    if args.anchor and args.step:
        result['anchor'] = anchor_speedup(args.anchor, result['training_step'])
        a = result['anchor']
        print(f"against the anchor's reference step ({a['reference_step_ms']:.1f} ms = model "
              f"{a['anchor_model_ms']:.1f} + reference loss path {a['anchor_loss_ms']:.1f}): "
              f"{a['speedup_this_model']:.2f}x with this model's step, "
              f"{a['speedup_anchor_model']:.2f}x with the anchor's model time")
    if args.profile:
        profile(fused, args.device, args.out, args.setting)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        path = osp.join(args.out, f'bench_agmm_loss_{args.setting}_{args.device}.json')
        with open(path, 'w') as f:
            json.dump(result, f, indent=1)
        print('wrote', path)
        save_plot(result, path[:-len('.json')] + '.png')
        print('wrote', path[:-len('.json')] + '.png')


if __name__ == '__main__':
    main()
