"""Run the report-to-voxel weak-label pipeline over a PET/CT data set.

``python tools/data/make_petct_labels.py data/phantom_pet_cpu`` writes
``<root>/weak_labels/`` (one NIfTI per kept sentence and ``labels.csv``),
prints how many sentences were kept and dropped and why, and, where the data
set has ground truth, the label accuracy. ``--extractor CONFIG`` plugs in
another slice/SUV extractor: a config file whose ``extractor`` is a
``WEAK_LABELERS`` entry, e.g. ``dict(type='VotingExtractor', ...)``.
"""
import argparse
import json
import os.path as osp
import sys

from mmengine.config import Config

from wsvision.datasets.io import DataError
from wsvision.datasets.petct import (format_label_summary, label_dataset,
                                     score_weak_labels)
from wsvision.datasets.petct.layout import PETCTLayout


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Make PET/CT weak labels')
    parser.add_argument('data_root', help='data set folder (PET/CT layout)')
    parser.add_argument('--out-name', default='weak_labels',
                        help='output folder name inside data_root')
    parser.add_argument('--splits', nargs='+',
                        help='splits to label (default: all)')
    parser.add_argument('--extractor', help='config file with `extractor`')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    extractor_cfg = None
    if args.extractor:
        if not osp.isfile(args.extractor):
            sys.exit(f'error: extractor config not found: {args.extractor}')
        extractor_cfg = Config.fromfile(args.extractor).get('extractor')
        if extractor_cfg is None:
            sys.exit(f'error: {args.extractor} defines no `extractor`')
    try:
        rows = label_dataset(args.data_root, args.out_name, args.splits,
                             extractor_cfg)
        layout = PETCTLayout(args.data_root)
        score = (score_weak_labels(args.data_root, rows, args.out_name)
                 if layout.has_ground_truth() else None)
    except DataError as e:
        sys.exit(f'error: {e}')
    print(format_label_summary(rows, score))
    if score is not None:
        path = osp.join(layout.weak_label_dir(args.out_name), 'summary.json')
        with open(path, 'w') as f:
            json.dump(score, f, indent=2)
        print(f'details: {path}')


if __name__ == '__main__':
    main()
