"""Run weak-label generators over a dataset and store their outputs.

Layout under ``out_dir`` (``<data>/<split>/weak`` for FashionScenes):

- sparse types (points, scribbles, blocks50/20/10): ``<type>/<stem>.png``,
  grey uint8 PNGs with class ids, 254 = unlabelled, 255 = ignored;
- tag and box types: ``<type>.json``, i.e. ``tags.json``
  ``{stem: [class ids]}`` and ``boxes.json``
  ``{stem: [[x1, y1, x2, y2, class_id], ...]}`` (x2, y2 exclusive);
- ``<type>/meta.json`` for every type: the generator config, the seed, the
  source and statistics (for sparse types the labelled fraction of the
  non-ignored pixels).

Image ``stem`` is labelled with ``image_rng(seed, stem)``, fresh for every
type, so an image's labels depend only on (seed, stem, generator config): not
on the processing order or on which other types are generated alongside.
"""
import json
import os
import zlib
from typing import Dict, Iterable, Sized

import numpy as np
from tqdm import tqdm

from ..datasets.io import write_label_png
from ..registry import WEAK_LABELERS
from .base import WeakLabeler
from .sources import MaskSample

__all__ = ['WEAK_LABEL_TYPES', 'build_weak_labeler', 'image_rng',
           'export_weak_labels']

#: The named weak-label types and the generator config each one builds.
WEAK_LABEL_TYPES: Dict[str, dict] = {
    'tags': dict(type='TagLabeler'),
    'points': dict(type='PointLabeler'),
    'scribbles': dict(type='ScribbleLabeler'),
    'blocks50': dict(type='BlockLabeler', fraction=0.5),
    'blocks20': dict(type='BlockLabeler', fraction=0.2),
    'blocks10': dict(type='BlockLabeler', fraction=0.1),
    'boxes': dict(type='BoxLabeler'),
}


def build_weak_labeler(weak_type: str, **overrides) -> WeakLabeler:
    """Build the generator of a named type, e.g. ``build_weak_labeler('blocks20')``.

    ``overrides`` replace constructor arguments (``background_id=None``).
    """
    if weak_type not in WEAK_LABEL_TYPES:
        raise ValueError(f'unknown weak-label type {weak_type!r}; expected one '
                         f'of {sorted(WEAK_LABEL_TYPES)}')
    return WEAK_LABELERS.build(dict(WEAK_LABEL_TYPES[weak_type], **overrides))


def image_rng(seed: int, stem: str) -> np.random.Generator:
    """The generator for one image, derived from (seed, file stem) only."""
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f'seed must be a non-negative int, got {seed!r}')
    return np.random.default_rng([int(seed), zlib.crc32(stem.encode('utf-8'))])


def _write_json(path: str, value, indent=None) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(value, f, indent=indent, sort_keys=True)
        f.write('\n')


def _sparse_stats(labelled: int, labellable: int,
                  image_fractions: list) -> dict:
    return dict(labelled_fraction=labelled / labellable if labellable else 0.0,
                labelled_pixels=labelled, labellable_pixels=labellable,
                mean_image_labelled_fraction=float(np.mean(image_fractions)),
                min_image_labelled_fraction=float(np.min(image_fractions)),
                max_image_labelled_fraction=float(np.max(image_fractions)))


def export_weak_labels(source: Iterable[MaskSample],
                       labelers: Dict[str, WeakLabeler], out_dir: str,
                       seed: int, progress: bool = True) -> Dict[str, dict]:
    """Generate every type in ``labelers`` for every sample and write them.

    source: ``MaskSample``s (``CocoSplitSource``, ``MaskFolderSource`` or any
    iterable; a ``root`` attribute is recorded in the metadata). labelers:
    ``{type name: generator}``; the name is the output folder. Returns
    ``{type name: meta}``, the dictionaries written to ``meta.json``.
    """
    records = {name: {} for name, labeler in labelers.items()
               if labeler.output != 'sparse'}
    counts = {name: dict(labelled=0, labellable=0, image_fractions=[])
              for name, labeler in labelers.items() if labeler.output == 'sparse'}
    num_images = 0
    total = len(source) if isinstance(source, Sized) else None
    for sample in tqdm(source, total=total, desc='weak labels',
                       disable=not progress):
        num_images += 1
        for name, labeler in labelers.items():
            weak = labeler(sample.semantic, sample.instances,
                           image_rng(seed, sample.stem))
            if labeler.output == 'sparse':
                write_label_png(os.path.join(out_dir, name, f'{sample.stem}.png'),
                                weak.sparse_mask)
                counts[name]['labelled'] += weak.labelled_pixels
                counts[name]['labellable'] += weak.labellable_pixels
                counts[name]['image_fractions'].append(weak.labelled_fraction)
            elif labeler.output == 'tags':
                records[name][sample.stem] = weak.tags
            else:
                records[name][sample.stem] = weak.boxes.tolist()
    if not num_images:
        raise ValueError(f'no images to label in {getattr(source, "root", source)}')

    metas = {}
    for name, labeler in labelers.items():
        if labeler.output == 'sparse':
            stats = _sparse_stats(**counts[name])
        else:
            _write_json(os.path.join(out_dir, f'{name}.json'),
                        records[name])
            sizes = [len(value) for value in records[name].values()]
            stats = {f'num_{labeler.output}': int(np.sum(sizes)),
                     f'mean_{labeler.output}_per_image': float(np.mean(sizes))}
        metas[name] = dict(type=name, labeler=labeler.config, seed=int(seed),
                           source=str(getattr(source, 'root', '')),
                           num_images=num_images, stats=stats)
        _write_json(os.path.join(out_dir, name, 'meta.json'), metas[name],
                    indent=2)
    return metas
