"""The ``fewshot`` variant: base training sets and K-shot sets per class split.

Follows the TFA / DeFRCN protocol:

- ``split{s}_base_train.json``: the core train images with base-class
  annotations only (novel objects stay unannotated, as in TFA base training);
  images left without any annotation are dropped.
- ``seed{n}/split{s}_{K}shot.json``: for every class, base and novel, images
  are drawn in random order and kept while they do not push that class past K
  annotations, until exactly K annotations of it are collected; only that
  class's annotations of a drawn image are kept. The draw for (seed n, class,
  K) does not depend on the split, so the splits share their K-shot samples
  and differ in which classes are novel (as TFA's per-class seed files do).
- ``splits.json``: base / novel names and ids per split, shots and seeds.

Every file's ``info.image_dir`` names the folder (relative to the output root)
that its ``file_name`` entries are relative to: the core ``train`` split.
Evaluation uses the core ``test`` split.
"""
import os
from collections import defaultdict

import numpy as np

from .builder import scene_rng
from .class_splits import NOVEL_CLASSES, class_split
from .source import FASHION_CLASSES
from .writer import coco_subset, write_json

SAMPLING_ROUNDS = 100


def annotations_by_class(coco: dict) -> dict:
    """{category id: {image id: [annotations]}} of a COCO dict."""
    grouped = defaultdict(lambda: defaultdict(list))
    for annotation in coco['annotations']:
        grouped[annotation['category_id']][annotation['image_id']].append(
            annotation)
    return grouped


def sample_shots(per_image: dict, shots: int, rng: np.random.Generator,
                 class_name: str) -> list:
    """Exactly ``shots`` annotations of one class, drawn image by image.

    ``per_image``: {image id: [annotations of the class]}. An image whose
    annotations would overshoot ``shots`` is skipped; if a pass over all
    images in random order does not land on exactly ``shots``, another
    random order is tried.
    """
    available = sum(len(anns) for anns in per_image.values())
    if available < shots:
        raise ValueError(f'the train split holds {available} instance(s) of '
                         f'{class_name!r}, fewer than {shots} shots; build '
                         'more train scenes (num_train)')
    image_ids = sorted(per_image)
    for _ in range(SAMPLING_ROUNDS):
        chosen = []
        for image_id in rng.permutation(image_ids):
            annotations = per_image[int(image_id)]
            if len(chosen) + len(annotations) <= shots:
                chosen.extend(annotations)
            if len(chosen) == shots:
                return chosen
    raise ValueError(f'could not draw exactly {shots} instances of '
                     f'{class_name!r} in {SAMPLING_ROUNDS} rounds')


def build_fewshot(out_dir: str, train_coco: dict, params: dict,
                  seed: int) -> dict:
    """Write ``out_dir/fewshot``; returns the content of ``splits.json``."""
    root = os.path.join(out_dir, 'fewshot')
    grouped = annotations_by_class(train_coco)
    shots_list = tuple(params['fewshot_shots'])
    seeds = list(range(params['fewshot_seeds']))
    splits = {str(split): class_split(split) for split in NOVEL_CLASSES}

    for split, classes in splits.items():
        base_ids = set(classes['base_ids'])
        base = [a for a in train_coco['annotations']
                if a['category_id'] in base_ids]
        info = {'image_dir': 'train', 'split': int(split), **classes}
        write_json(os.path.join(root, f'split{split}_base_train.json'),
                   coco_subset(train_coco, base, info,
                               keep_images={a['image_id'] for a in base}))

    for fewshot_seed in seeds:
        for shots in shots_list:
            sampled = []
            for category_id in range(1, len(FASHION_CLASSES) + 1):
                # One stream per (seed, class, K), independent of the split.
                rng = scene_rng(seed, f'fewshot/seed{fewshot_seed}/{shots}shot',
                                category_id)
                sampled += sample_shots(grouped[category_id], shots, rng,
                                        FASHION_CLASSES[category_id - 1])
            sampled.sort(key=lambda a: a['id'])
            image_ids = {a['image_id'] for a in sampled}
            for split, classes in splits.items():
                info = {'image_dir': 'train', 'split': int(split),
                        'shots': shots, 'seed': fewshot_seed, **classes}
                write_json(os.path.join(root, f'seed{fewshot_seed}',
                                        f'split{split}_{shots}shot.json'),
                           coco_subset(train_coco, sampled, info,
                                       keep_images=image_ids))

    summary = {'shots': list(shots_list), 'seeds': seeds,
               'image_dir': 'train', 'test': 'test/instances.json',
               'splits': splits}
    write_json(os.path.join(root, 'splits.json'), summary)
    return summary
