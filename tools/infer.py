"""Run a segmentor or detector on images and write PNG overlays.

    python tools/infer.py agmm_deeplabv3plus_r18_fashionscenes-scribble \\
        demo/demo.png --out out/
    python tools/infer.py \\
        configs/faster_rcnn/faster-rcnn_r18_fpn_fashionscenes.py images/ \\
        --checkpoint work_dirs/.../best.pth --out out/

CONFIG_OR_NAME is a config file or a model name from ``model-index.yml``
(its published weights are downloaded, cached and sha256-checked). INPUTS
are image files or folders of images; ``<out>/<image name>.png`` shows each
prediction with class names and scores.
"""
import argparse
import os
import os.path as osp
import sys

from tqdm import tqdm

from wsvision.apis import CheckpointError, init_model, show_result
from wsvision.apis.inference import predict_images
from wsvision.datasets.io import DataError

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('model', metavar='CONFIG_OR_NAME',
                        help='config file or model-index name')
    parser.add_argument('inputs', nargs='+', metavar='INPUTS',
                        help='image files or folders')
    parser.add_argument('--out', required=True, help='folder for the PNGs')
    parser.add_argument('--checkpoint', default='auto',
                        help="path, URL or 'auto' (the zoo weights)")
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='detections below this score are not drawn')
    return parser.parse_args(argv)


def expand_inputs(inputs):
    """Image files, with each folder replaced by its images (sorted)."""
    paths = []
    for item in inputs:
        if osp.isdir(item):
            paths += sorted(osp.join(item, name) for name in os.listdir(item)
                            if name.lower().endswith(IMAGE_SUFFIXES))
        elif osp.isfile(item):
            paths.append(item)
        else:
            raise DataError(f'input not found: {item}')
    if not paths:
        raise DataError(f'no images in {inputs}')
    return paths


def output_name(path: str, taken: set) -> str:
    stem = osp.splitext(osp.basename(path))[0]
    name, index = stem, 1
    while name in taken:
        name, index = f'{stem}_{index}', index + 1
    taken.add(name)
    return name + '.png'


def main(argv=None):
    args = parse_args(argv)
    try:
        paths = expand_inputs(args.inputs)
        model = init_model(args.model, args.checkpoint, device=args.device)
    except (CheckpointError, DataError, LookupError, FileNotFoundError) as e:
        sys.exit(f'error: {e}')
    classes = model.dataset_meta.get('classes')
    written, taken = [], set()
    for path in tqdm(paths, desc='infer', unit='image',
                     disable=len(paths) < 2):
        try:
            result = predict_images(model, [path])[0]
        except DataError as e:
            sys.exit(f'error: {e}')
        out_file = osp.join(args.out, output_name(path, taken))
        show_result(path, result, classes, score_thr=args.score_thr,
                    out_file=out_file)
        written.append(out_file)
    print(f'wrote {len(written)} overlay(s) to {args.out}')
    return written


if __name__ == '__main__':
    main()
