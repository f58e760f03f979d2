"""The ``person_search`` variant: find one specific item across scenes.

Every identity is one specific Fashion-MNIST image. It appears in
``ps_occurrences`` (2-4) scenes of its split, each time at a freshly drawn
scale, tint and position. About ``ps_distractor_fraction`` of the items are
distractors: images of no identity (identity -1, like CUHK-SYSU's unlabelled
people). Train identities come from Fashion-MNIST train, val and test
identities from the val and test halves of Fashion-MNIST test, so the three
sets are disjoint; identity ids are numbered per split from 0. ``val`` is
built like ``test``, for choosing settings without looking at ``test``.

Layout under ``OUT/person_search/`` (CUHK-SYSU-like)::

    train/images/<id>.png, train/masks/<id>.png   as in the core splits
    train/instances.json       COCO; boxes and class ids only: no identity
                               and no ``source_index`` (it would reveal it)
    train/identities_hidden.json
        {"num_identities": N, "identities": {"<annotation id>": identity}}
        for the fully supervised upper bound only
    val/..., test/images/..., test/masks/...
    test/instances.json        COCO; each annotation adds "identity"
    test/queries.json          [{"query_id", "image_id", "annotation_id",
                                 "bbox": [x, y, w, h], "identity"}]
                               one query per test identity: its box in one
                               of its scenes, picked at random
    test/gallery.json          {"<query_id>": [image ids]}: ``ps_gallery_size``
                               scenes, never the query's own scene, holding
                               every other scene of the identity and, to fill
                               up, random scenes without it
    meta.json

A detector for person search treats all categories as one "item" class;
``category_id`` is kept so that class-aware baselines can use it.
"""
import os
from collections import defaultdict

import numpy as np
from tqdm import tqdm

from .builder import (item_pool, scene_config, scene_rng, source_item,
                      write_meta)
from .compose import compose_scene
from .writer import SplitWriter, write_json

DISTRACTOR = -1
#: Splits searched query -> gallery, each with its own identities.
SEARCH_SPLITS = ('val', 'test')


def assign_identities(rng: np.random.Generator, num_scenes: int,
                      params: dict):
    """Decide which identities each scene holds.

    Each scene gets ``min_items..max_items`` slots; a binomial share of them
    is reserved for distractors. Identities are then created one by one, each
    put in 2-4 distinct scenes that still have a free slot, until fewer scenes
    than the minimum occurrence count remain open; their slots go to
    distractors.

    Returns (slots, num_identities): ``slots[s]`` lists scene ``s``'s
    identities, ``DISTRACTOR`` for a distractor.
    """
    capacity = rng.integers(params['min_items'], params['max_items'] + 1,
                            size=num_scenes)
    distractors = rng.binomial(capacity, params['ps_distractor_fraction'])
    free = capacity - distractors
    slots = [[] for _ in range(num_scenes)]
    low, high = params['ps_occurrences']
    num_identities = 0
    while True:
        open_scenes = np.flatnonzero(free > 0)
        if len(open_scenes) < low:
            break
        count = min(int(rng.integers(low, high + 1)), len(open_scenes))
        for scene in rng.choice(open_scenes, size=count, replace=False):
            slots[scene].append(num_identities)
            free[scene] -= 1
        num_identities += 1
    for scene in range(num_scenes):
        slots[scene] += [DISTRACTOR] * int(distractors[scene] + free[scene])
    return slots, num_identities


def write_scenes(split_dir: str, stream: str, split: str, params: dict,
                 seed: int, source, keep_identity: bool, progress: bool):
    """Compose and write one person-search split.

    Returns (coco, identity per annotation id, number of identities).
    """
    num_scenes = params[f'ps_num_{split}']
    slots, num_identities = assign_identities(
        scene_rng(seed, f'{stream}/identities', 0), num_scenes, params)
    fmnist, pool = item_pool(split, source, seed)
    if num_identities >= len(pool):
        raise ValueError(f'{split}: {num_identities} identities need more '
                         f'than the {len(pool)} Fashion-MNIST images of the '
                         f'pool; lower ps_num_{split}')
    order = scene_rng(seed, f'{stream}/sources', 0).permutation(pool)
    identity_sources, distractor_sources = (order[:num_identities],
                                            order[num_identities:])
    config = scene_config(params)
    writer = SplitWriter(split_dir, keep_source_index=keep_identity)
    identity_of = {}
    for index in tqdm(range(num_scenes), desc=stream, disable=not progress):
        rng = scene_rng(seed, stream, index)
        identities = [int(i) for i in rng.permutation(slots[index])]
        sources = [identity_sources[i] if i != DISTRACTOR else
                   distractor_sources[rng.integers(len(distractor_sources))]
                   for i in identities]
        scene = compose_scene(rng, [source_item(fmnist, int(s))
                                    for s in sources],
                              config, require_all=True)
        placed_identities = [identities[item.input_index]
                             for item in scene.items]
        extra = ([{'identity': i} for i in placed_identities]
                 if keep_identity else None)
        for annotation, identity in zip(writer.add(index, scene, extra),
                                        placed_identities):
            identity_of[annotation['id']] = identity
    return writer.close(), identity_of, num_identities


def make_queries(rng: np.random.Generator, coco: dict, identity_of: dict,
                 gallery_size: int):
    """One query per identity and its gallery (see the module docstring)."""
    occurrences = defaultdict(list)
    for annotation in coco['annotations']:
        identity = identity_of[annotation['id']]
        if identity != DISTRACTOR:
            occurrences[identity].append(annotation)
    all_images = np.array(sorted(image['id'] for image in coco['images']))
    queries, galleries = [], {}
    for query_id, identity in enumerate(sorted(occurrences)):
        annotations = occurrences[identity]
        query = annotations[int(rng.integers(len(annotations)))]
        positives = {a['image_id'] for a in annotations} - {query['image_id']}
        without = all_images[~np.isin(all_images, [a['image_id']
                                                   for a in annotations])]
        negatives = rng.choice(without, size=gallery_size - len(positives),
                               replace=False)
        queries.append({'query_id': query_id, 'image_id': query['image_id'],
                        'annotation_id': query['id'], 'bbox': query['bbox'],
                        'identity': identity})
        galleries[str(query_id)] = sorted(positives | {int(n)
                                                       for n in negatives})
    return queries, galleries


def build_person_search(out_dir: str, preset: str, params: dict, seed: int,
                        source, progress: bool = False) -> dict:
    """Write ``out_dir/person_search``; returns its meta.json."""
    gallery_size = params['ps_gallery_size']
    for split in SEARCH_SPLITS:
        if params[f'ps_num_{split}'] <= gallery_size:
            raise ValueError(f'ps_num_{split} ({params[f"ps_num_{split}"]}) '
                             f'must exceed ps_gallery_size ({gallery_size}): '
                             "a gallery never holds its query's own scene")
    if params['ps_occurrences'][0] < 2:
        raise ValueError('ps_occurrences must start at 2 or more: a query '
                         'needs another scene of its identity to find')
    root = os.path.join(out_dir, 'person_search')
    _, train_identity_of, num_train_ids = write_scenes(
        os.path.join(root, 'train'), 'person_search/train', 'train', params,
        seed, source, keep_identity=False, progress=progress)
    write_json(os.path.join(root, 'train', 'identities_hidden.json'),
               {'num_identities': num_train_ids,
                'identities': {str(k): v for k, v in
                               train_identity_of.items()}})
    identities, num_queries = {'train': num_train_ids}, {}
    for split in SEARCH_SPLITS:
        coco, identity_of, identities[split] = write_scenes(
            os.path.join(root, split), f'person_search/{split}', split,
            params, seed, source, keep_identity=True, progress=progress)
        queries, galleries = make_queries(
            scene_rng(seed, f'person_search/{split}/queries', 0), coco,
            identity_of, gallery_size)
        write_json(os.path.join(root, split, 'queries.json'), queries)
        write_json(os.path.join(root, split, 'gallery.json'), galleries)
        num_queries[split] = len(queries)
    return write_meta(os.path.join(root, 'meta.json'),
                      'fashion_scenes_person_search', preset, seed, params,
                      {split: params[f'ps_num_{split}']
                       for split in ('train', ) + SEARCH_SPLITS},
                      identities=identities, queries=num_queries)
