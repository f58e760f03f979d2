"""Build PhantomPET: ``python tools/data/build_phantom_pet.py --preset cpu``.

Writes NIfTI PET (SUV) and CT (HU) volumes, the report table, the lesion
masks and, per sentence, the lesion it refers to (see
``wsvision/datasets/petct/layout.py``). The same seed gives the same files.
"""
import argparse
import os.path as osp
import time

from wsvision.datasets.petct import PRESETS, build_phantom_pet


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Build PhantomPET')
    parser.add_argument('--preset', choices=sorted(PRESETS), default='cpu')
    parser.add_argument('--out', help='output folder '
                        '(default: data/phantom_pet_<preset>)')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    out = args.out or osp.join('data', f'phantom_pet_{args.preset}')
    start = time.time()
    layout = build_phantom_pet(out, args.preset, args.seed)
    meta = layout.meta()
    counts = ', '.join(f'{split} {len(ids)}'
                       for split, ids in meta['splits'].items())
    print(f'PhantomPET {args.preset} (seed {args.seed}) in {out}: grid '
          f'{meta["shape"]}, voxels {meta["spacing_mm"]} mm, exams: '
          f'{counts} ({time.time() - start:.0f} s)')


if __name__ == '__main__':
    main()
