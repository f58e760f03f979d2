"""Generate weak labels (tags, points, scribbles, blocks, boxes) from dense masks.

A FashionScenes / COCO-layout split (``<data>/<split>/masks/*.png`` and
``<data>/<split>/instances.json``), written to ``<data>/<split>/weak``::

    python tools/data/make_weak_labels.py --data data/fashion_scenes \\
        --split train --type all --seed 0

A plain folder of semantic masks, without instances (generators that need
instances use the connected components of each class), e.g. VOC or Cityscapes
train ids (no background class there)::

    python tools/data/make_weak_labels.py \\
        --masks data/VOCdevkit/VOC2012/SegmentationClass --type scribbles
    python tools/data/make_weak_labels.py --masks data/cityscapes/gtFine/train \\
        --pattern '*_labelTrainIds.png' --background-id none --type blocks20

See ``wsvision.weak_labels.export`` for the output layout.
"""
import argparse
import os

from wsvision.weak_labels import (WEAK_LABEL_TYPES, CocoSplitSource,
                                  MaskFolderSource, build_weak_labeler,
                                  export_weak_labels)


def optional_class_id(text: str):
    return None if text.lower() == 'none' else int(text)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Generate weak labels from dense semantic / instance masks.')
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--data', help='dataset root in the FashionScenes / '
                        'COCO layout (<data>/<split>/masks, instances.json)')
    source.add_argument('--masks', help='a folder of semantic mask PNGs '
                        '(searched recursively), without instances')
    parser.add_argument('--split', default='train',
                        help='split folder under --data (default: train)')
    parser.add_argument('--pattern', default='*.png',
                        help='file pattern of the masks under --masks')
    parser.add_argument('--type', default='all',
                        choices=[*WEAK_LABEL_TYPES, 'all'],
                        help='weak-label type to generate (default: all)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed; image i uses (seed, file stem)')
    parser.add_argument('--out', help='output folder (default: '
                        '<data>/<split>/weak, or weak/ next to --masks)')
    parser.add_argument('--ignore-index', type=optional_class_id, default=255,
                        help='mask value of "do not care" pixels, or none')
    parser.add_argument('--background-id', type=optional_class_id, default=0,
                        help='background class id, or none when every class '
                        'is an object class (Cityscapes)')
    parser.add_argument('--no-progress', action='store_true',
                        help='hide the progress bar')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.data:
        split_dir = os.path.join(args.data, args.split)
        source = CocoSplitSource(split_dir)
        out_dir = args.out or os.path.join(split_dir, 'weak')
    else:
        source = MaskFolderSource(args.masks, args.pattern)
        out_dir = args.out or os.path.join(
            os.path.dirname(os.path.abspath(args.masks)), 'weak')
    types = list(WEAK_LABEL_TYPES) if args.type == 'all' else [args.type]
    labelers = {name: build_weak_labeler(name, ignore_index=args.ignore_index,
                                         background_id=args.background_id)
                for name in types}
    metas = export_weak_labels(source, labelers, out_dir, args.seed,
                               progress=not args.no_progress)
    for name, meta in metas.items():
        print(f'{name:>10}: {meta["stats"]}')
    print(f'written to {out_dir}')


if __name__ == '__main__':
    main()
