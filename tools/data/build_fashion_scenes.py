"""Build the FashionScenes benchmark (and its variants) from Fashion-MNIST.

Examples::

    python tools/data/build_fashion_scenes.py --preset cpu --out data/fashion_scenes
    python tools/data/build_fashion_scenes.py --preset tiny --out /tmp/fs --canvas 48
    python tools/data/build_fashion_scenes.py --preset cpu --out data/fashion_scenes \
        --variant all --set foggy_num_train=500
    python tools/data/build_fashion_scenes.py --preset cpu --out data/fashion_scenes \
        --check   # exit 1, saying what differs, unless OUT holds this build
"""
import argparse
import ast
import sys

from wsvision.datasets.fashion_scenes import (PRESETS, VARIANTS,
                                              build_fashion_scenes,
                                              build_mismatch, build_variant)
from wsvision.datasets.io import DataError


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--preset', default='cpu', choices=sorted(PRESETS))
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--source', default=None,
                        help='Fashion-MNIST folder (default: Debian install)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--splits', nargs='+', default=None,
                        choices=('train', 'val', 'test'),
                        help='core splits to build (default: all)')
    parser.add_argument('--variant', default='core',
                        choices=('core', 'all') + tuple(VARIANTS),
                        help="'core' builds train/val/test; 'all' builds the "
                        'core and every variant')
    parser.add_argument('--canvas', type=int)
    parser.add_argument('--num-train', type=int)
    parser.add_argument('--num-val', type=int)
    parser.add_argument('--num-test', type=int)
    parser.add_argument('--min-items', type=int)
    parser.add_argument('--max-items', type=int)
    parser.add_argument('--item-size', type=int, nargs=2, metavar=('MIN', 'MAX'))
    parser.add_argument('--set', action='append', default=[],
                        metavar='KEY=VALUE',
                        help='override any preset parameter, e.g. '
                        'fewshot_seeds=5 or foggy_blur=(0.5,1.0)')
    parser.add_argument('--check', action='store_true',
                        help='build nothing; exit 1 with the reason unless '
                        'OUT holds the core splits this command would build')
    return parser.parse_args(argv)


def overrides_from(args) -> dict:
    overrides = {key: value for key, value in (
        ('canvas', args.canvas), ('num_train', args.num_train),
        ('num_val', args.num_val), ('num_test', args.num_test),
        ('min_items', args.min_items), ('max_items', args.max_items),
        ('item_size', args.item_size)) if value is not None}
    for item in args.set:
        key, sep, text = item.partition('=')
        if not sep:
            raise ValueError(f'--set expects KEY=VALUE, got {item!r}')
        try:
            overrides[key.strip()] = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            raise ValueError(f'--set {key}: cannot parse value {text!r}') \
                from None
    return overrides


def main(argv=None):
    args = parse_args(argv)
    try:
        overrides = overrides_from(args)
        if args.check:
            reason = build_mismatch(args.out, args.preset, args.seed,
                                    **overrides)
            if reason:
                sys.exit(f'error: {reason}; build it again into an empty '
                         'folder (or another --out)')
            print(f'{args.out} holds the {args.preset!r} build')
            return
        common = dict(preset=args.preset, source=args.source, seed=args.seed,
                      progress=True, **overrides)
        if args.variant in ('core', 'all'):
            build_fashion_scenes(args.out, splits=args.splits, **common)
        variants = VARIANTS if args.variant == 'all' else (
            () if args.variant == 'core' else (args.variant, ))
        for variant in variants:
            build_variant(args.out, variant, **common)
    except (DataError, ValueError) as error:
        sys.exit(f'error: {error}')
    print(f'FashionScenes ({args.preset}, seed {args.seed}) written to '
          f'{args.out}')


if __name__ == '__main__':
    main()
