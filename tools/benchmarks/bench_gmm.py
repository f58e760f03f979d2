"""Benchmark the GMM log-likelihood: naive broadcast vs PyTorch reference vs fused kernel.

    python tools/benchmarks/bench_gmm.py --device cpu --setting cpu --out work_dirs/bench_gmm
    python tools/benchmarks/bench_gmm.py --device cuda --setting voc --out work_dirs/bench_gmm

Each variant runs forward + backward (gradients to feat and the class means)
``--repeats`` times after a warm-up; the table gives the median times and the
peak memory, and a JSON file (plus a PNG bar plot with ``--plot``) is written
to ``--out``.

Peak memory is the memory the call adds on top of its inputs:
- cuda: ``torch.cuda.max_memory_allocated`` minus the memory allocated before
  the call;
- cpu: the peak resident set size over one forward + backward minus the
  resident set size before it (Linux: writing 5 to /proc/self/clear_refs
  resets the peak, /proc/self/status reports it as VmHWM), in a fresh process
  per variant in which glibc mmaps every block of 64 KiB or more: freed
  tensors then leave the resident set at once, so it follows the live
  tensors. (That slows allocations down, so the timings run without it.)

On a GPU the script also reports the memory-traffic floor of the op: bytes of
features read and responses written in the forward, responses' gradient read
and features' gradient written in the backward (the definition of
shared/anchors/agmm_reference_h200.json), divided by the device-to-device copy
bandwidth measured here, and the fraction of that floor the fused op reaches,
timed one call at a time and back to back (GPU time per call when the host
queues calls ahead, i.e. without the host's share).
"""
import argparse
import json
import multiprocessing
import os
import os.path as osp
import platform
import statistics
import subprocess
import sys
import time

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from wsvision.ops import gmm_log_likelihood, naive_gmm_log_likelihood  # noqa: E402

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from common import cpu_peak_extra_mib, mmap_large_cpu_blocks, pyplot, save_figure  # noqa: E402

SETTINGS = {
    'cpu': dict(B=4, K=21, C=64, h=41, w=41),
    'voc': dict(B=16, K=21, C=256, h=81, w=81),
}
FUSED_IMPL = {'cpu': 'cpp', 'cuda': 'cuda'}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', choices=['cpu', 'cuda'], default='cpu')
    parser.add_argument('--setting', choices=sorted(SETTINGS), default='cpu')
    parser.add_argument('--dist', choices=['l1_mean', 'sq_l2'], nargs='+',
                        default=['l1_mean', 'sq_l2'])
    parser.add_argument('--variants', nargs='+', default=['naive', 'reference', 'fused'],
                        choices=['naive', 'reference', 'fused'])
    parser.add_argument('--repeats', type=int, default=None,
                        help='timed runs per variant (default: 5 on cpu, 20 on cuda)')
    parser.add_argument('--threads', type=int, default=2, help='CPU threads (torch)')
    parser.add_argument('--out', default=None, help='folder for the JSON (and PNG)')
    parser.add_argument('--plot', action='store_true', help='also save a PNG bar plot')
    return parser.parse_args()


def make_inputs(setting, device, dist, seed=0):
    """feat (B, C, h, w), means (B, K, C), log_var (AGMM++'s sq_l2 only), grad weights."""
    s = SETTINGS[setting]
    gen = torch.Generator().manual_seed(seed)
    feat = torch.randn(s['B'], s['C'], s['h'], s['w'], generator=gen).to(device)
    means = torch.randn(s['B'], s['K'], s['C'], generator=gen).to(device)
    log_var = (0.1 * torch.randn(s['B'], s['K'], s['C'], generator=gen)).to(device)
    weights = torch.randn(s['B'], s['K'], s['h'], s['w'], generator=gen).to(device)
    feat.requires_grad_(True)
    means.requires_grad_(True)
    return feat, means, (log_var if dist == 'sq_l2' else None), weights


def run_variant(variant, device, feat, means, log_var, weights, dist, backward=True):
    """One forward (+ backward) of a variant."""
    if variant == 'naive':
        out = naive_gmm_log_likelihood(feat, means, log_var, dist=dist)
    else:
        impl = 'torch' if variant == 'reference' else FUSED_IMPL[device]
        out = gmm_log_likelihood(feat, means, log_var, dist=dist, impl=impl)
    if backward:
        torch.autograd.grad((out * weights).sum(), (feat, means))
    return out


def time_ms(fn, device, repeats):
    """Median wall time of fn() in milliseconds, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        if device == 'cuda':
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
        else:
            t0 = time.perf_counter()
            fn()
            times.append(1e3 * (time.perf_counter() - t0))
    return statistics.median(times)


def pipelined_ms(fn, repeats):
    """GPU time per call of fn() run back to back (CUDA events around all the
    calls): the host queues the next call while the GPU runs this one, so
    unlike ``time_ms`` this leaves out the gaps where the GPU waits for the
    host."""
    fn()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(repeats):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / repeats


def cpu_peak_extra_mb(variant, setting, dist, threads):
    """Resident memory (MB) one forward + backward adds, run in a fresh process."""
    mmap_large_cpu_blocks()
    torch.set_num_threads(threads)
    inputs = make_inputs(setting, 'cpu', dist)
    # The warm-up call loads the kernels; its blocks are unmapped.
    return cpu_peak_extra_mib(lambda: run_variant(variant, 'cpu', *inputs, dist))


def measure_peak_mb(variant, setting, dist, device, threads, inputs):
    """Memory (MB) that one forward + backward adds on top of its inputs."""
    if device == 'cpu':
        with multiprocessing.get_context('spawn').Pool(1) as pool:
            return pool.apply(cpu_peak_extra_mb, (variant, setting, dist, threads))
    feat, means, log_var, weights = inputs
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    run_variant(variant, device, feat, means, log_var, weights, dist)
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() - base) / 2 ** 20


def copy_bandwidth_bytes_per_s():
    """Device-to-device copy bandwidth, counting bytes read and written."""
    src = torch.empty(2 ** 28, device='cuda')  # 1 GiB
    dst = torch.empty_like(src)
    ms = time_ms(lambda: dst.copy_(src), 'cuda', 10)
    return 2 * src.numel() * 4 / (ms * 1e-3)


def tensor_sizes_mb(setting):
    """float32 sizes of the features, the responses and the naive broadcast."""
    s = SETTINGS[setting]
    pixels = s['B'] * s['h'] * s['w']
    return {'feat': pixels * s['C'] * 4 / 2 ** 20, 'responses': pixels * s['K'] * 4 / 2 ** 20,
            'broadcast': pixels * s['K'] * s['C'] * 4 / 2 ** 20}


def traffic_floor_bytes(setting):
    s = SETTINGS[setting]
    feat = s['B'] * s['C'] * s['h'] * s['w'] * 4
    responses = s['B'] * s['K'] * s['h'] * s['w'] * 4
    return 2 * (feat + responses)


def git_commit():
    try:
        return subprocess.run(['git', 'rev-parse', 'HEAD'], capture_output=True, text=True,
                              cwd=osp.dirname(osp.abspath(__file__)), check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def benchmark(args):
    """Times every (dist, variant), then measures their peak memory."""
    device = args.device
    if device == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('--device cuda: no GPU is available')
    torch.set_num_threads(args.threads)
    repeats = args.repeats or (5 if device == 'cpu' else 20)
    inputs = {dist: make_inputs(args.setting, device, dist) for dist in args.dist}
    results = {}
    for dist in args.dist:
        for variant in args.variants:
            results[f'{dist}/{variant}'] = {
                'fwd_ms': time_ms(lambda: run_variant(variant, device, *inputs[dist], dist,
                                                      backward=False), device, repeats),
                'fwd_bwd_ms': time_ms(lambda: run_variant(variant, device, *inputs[dist], dist),
                                      device, repeats),
            }
            if device == 'cuda' and variant == 'fused':
                results[f'{dist}/{variant}']['fwd_bwd_pipelined_ms'] = pipelined_ms(
                    lambda: run_variant(variant, device, *inputs[dist], dist), repeats)
    for dist in args.dist:
        for variant in args.variants:
            row = results[f'{dist}/{variant}']
            row['peak_extra_MB'] = measure_peak_mb(variant, args.setting, dist, device,
                                                   args.threads, inputs[dist])
            pipelined = (f'   back to back {row["fwd_bwd_pipelined_ms"]:.3f} ms'
                         if 'fwd_bwd_pipelined_ms' in row else '')
            print(f'  {dist:8s} {variant:9s} fwd {row["fwd_ms"]:9.3f} ms   fwd+bwd '
                  f'{row["fwd_bwd_ms"]:9.3f} ms   peak +{row["peak_extra_MB"]:9.1f} MB'
                  f'{pipelined}', flush=True)
        if 'naive' in args.variants and 'fused' in args.variants:
            results[f'{dist}/speedup_fused_vs_naive'] = (
                results[f'{dist}/naive']['fwd_bwd_ms'] / results[f'{dist}/fused']['fwd_bwd_ms'])
    return results, repeats


def main():
    args = parse_args()
    started = time.time()
    s = SETTINGS[args.setting]
    sizes = tensor_sizes_mb(args.setting)
    print(f'GMM log-likelihood, setting {args.setting} {s}, device {args.device}, '
          f'{args.threads} CPU threads')
    print('  float32 sizes: ' + ', '.join(f'{k} {v:.1f} MB' for k, v in sizes.items()))
    results, repeats = benchmark(args)
    report = {
        'setting': args.setting, 'shape': s, 'tensor_sizes_MB': sizes, 'device': args.device,
        'device_name': (torch.cuda.get_device_name() if args.device == 'cuda'
                        else platform.processor() or platform.machine()),
        'torch': torch.__version__, 'threads': args.threads, 'repeats': repeats,
        'timing': ('median of repeats after one warm-up; forward + backward to feat and '
                   'means; on cuda, fwd_bwd_pipelined_ms: repeats run back to back'),
        'memory': ('torch.cuda.max_memory_allocated minus allocated before the call'
                   if args.device == 'cuda' else
                   'VmHWM minus VmRSS over one forward + backward (peak reset via '
                   'clear_refs), fresh process per variant, glibc mmaps blocks >= 64 KiB'),
        'results': results, 'git_commit': git_commit(),
    }
    if args.device == 'cuda':
        floor = traffic_floor_bytes(args.setting)
        bandwidth = copy_bandwidth_bytes_per_s()
        floor_ms = floor / bandwidth * 1e3
        report['traffic_floor'] = {'bytes': floor, 'copy_bandwidth_TBps': bandwidth / 1e12,
                                   'floor_ms': floor_ms}
        for dist in args.dist:
            if f'{dist}/fused' in results:
                row = results[f'{dist}/fused']
                fraction = floor_ms / row['fwd_bwd_ms']
                report['traffic_floor'][f'{dist}/fused_fraction_of_floor'] = fraction
                pipelined = row['fwd_bwd_pipelined_ms'] / floor_ms
                report['traffic_floor'][f'{dist}/fused_back_to_back_x_floor'] = pipelined
                print(f'  {dist}: traffic floor {floor / 1e6:.1f} MB = {floor_ms:.3f} ms at '
                      f'{bandwidth / 1e12:.2f} TB/s; fused reaches {fraction:.2f} of it '
                      f'({1 / fraction:.1f}x the floor; back to back {pipelined:.1f}x)')
    for dist in args.dist:
        key = f'{dist}/speedup_fused_vs_naive'
        if key in results:
            print(f'  {dist}: fused is {results[key]:.1f}x faster than naive (fwd+bwd)')
    report['wall_s'] = time.time() - started
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        stem = osp.join(args.out, f'bench_gmm_{args.device}_{args.setting}')
        with open(stem + '.json', 'w') as f:
            json.dump(report, f, indent=1)
        print(f'wrote {stem}.json')
        if args.plot:
            save_plot(report, stem + '.png')
            print(f'wrote {stem}.png')


def save_plot(report, path):
    plt = pyplot()
    rows = {k: v for k, v in report['results'].items() if isinstance(v, dict)}
    names = list(rows)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, label in ((axes[0], 'fwd_bwd_ms', 'forward + backward (ms)'),
                           (axes[1], 'peak_extra_MB', 'peak extra memory (MB)')):
        ax.barh(names, [rows[n][key] for n in names])
        ax.set_xscale('log')
        ax.set_xlabel(label)
    fig.suptitle(f'GMM log-likelihood, {report["setting"]} setting on {report["device_name"]}')
    save_figure(fig, path)


if __name__ == '__main__':
    main()
