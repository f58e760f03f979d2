"""FashionScenes presets and the core build (``train`` / ``val`` / ``test``).

Output layout (a contract other code relies on)::

    OUT/meta.json                 name, preset, seed, canvas, classes,
                                  seg_classes, splits {split: N}, params
    OUT/<split>/images/<id>.png   RGB scene, id = 6-digit scene index
    OUT/<split>/masks/<id>.png    uint8 class ids, 0 = background, 1..10
    OUT/<split>/instances.json    COCO, visible instance masks as RLE

Determinism: scene ``i`` of a split is drawn from its own generator seeded
with (seed, stream, i), so a scene does not depend on the build order or on
how many scenes are built; the same seed gives byte-identical files.

``train`` takes items from Fashion-MNIST train; ``val`` and ``test`` take them
from two disjoint halves of Fashion-MNIST test (a seeded permutation).
"""
import dataclasses
import json
import os
import zlib
from typing import Callable, Optional

import numpy as np
from tqdm import tqdm

from ..io import load_json
from .background import Palette
from .compose import SceneConfig, SourceItem, compose_scene
from .source import FASHION_CLASSES, SEG_CLASSES, load_fashion_mnist
from .writer import SplitWriter, write_json

CORE_SPLITS = ('train', 'val', 'test')

_COMMON = dict(
    min_visible=0.6,       # every instance keeps >= 60% of its area visible
    threshold=20,          # grey level (0..255) where the silhouette starts
    shade_floor=0.3,
    noise_std=0.01,
    place_tries=50,
    fewshot_shots=(1, 2, 3, 5, 10),
    fewshot_seeds=10,
    foggy_beta=(0.4, 1.2),        # haze density range (fog variant)
    foggy_blur=(0.5, 1.2),        # Gaussian blur sigma range, pixels
    foggy_contrast=(0.65, 0.85),  # contrast scale range
    ps_gallery_size=100,
    ps_occurrences=(2, 4),
    ps_distractor_fraction=0.2,
)

#: Parameters that are (min, max) ranges.
_RANGES = ('item_size', 'foggy_beta', 'foggy_blur', 'foggy_contrast',
           'ps_occurrences')

#: Every generation parameter of every preset, in one place. Override any of
#: them with keyword arguments (or ``--set KEY=VALUE`` on the command line).
PRESETS = {
    # Unit tests: seconds to build.
    'tiny': dict(_COMMON, canvas=64, item_size=(16, 32), min_items=1,
                 max_items=3, num_train=24, num_val=8, num_test=8,
                 fewshot_shots=(1, ), fewshot_seeds=2,
                 foggy_num_train=16, foggy_num_val=8, foggy_num_test=8,
                 ps_num_train=24, ps_num_val=24, ps_num_test=24,
                 ps_gallery_size=16),
    # The benchmark scale for 2 CPU cores.
    'cpu': dict(_COMMON, canvas=64, item_size=(24, 44), min_items=1,
                max_items=3, num_train=16000, num_val=300, num_test=300,
                foggy_num_train=2000, foggy_num_val=300, foggy_num_test=300,
                ps_num_train=2000, ps_num_val=400, ps_num_test=400),
    'gpu': dict(_COMMON, canvas=128, item_size=(20, 64), min_items=1,
                max_items=4, num_train=20000, num_val=1000, num_test=1000,
                foggy_num_train=10000, foggy_num_val=1000,
                foggy_num_test=1000, ps_num_train=10000, ps_num_val=2000,
                ps_num_test=2000),
}


def resolve_params(preset: str, seed: int, overrides: dict) -> dict:
    """The preset's parameters with ``overrides`` applied, all checked
    (``seed`` too, though it is not a parameter)."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f'seed must be a non-negative integer, got {seed!r}')
    if preset not in PRESETS:
        raise ValueError(f'unknown FashionScenes preset {preset!r}; '
                         f'choose one of {sorted(PRESETS)}')
    params = dict(PRESETS[preset])
    for key, value in overrides.items():
        if key not in params:
            raise ValueError(f'unknown FashionScenes parameter {key!r}; '
                             f'valid ones: {sorted(params)}')
        if isinstance(params[key], tuple):
            if not isinstance(value, (list, tuple)):
                raise ValueError(f'{key} takes a tuple, got {value!r}')
            value = tuple(value)
            if key in _RANGES and (len(value) != 2 or value[0] > value[1]):
                raise ValueError(f'{key} takes (min, max), got {value}')
        params[key] = value
    if not 1 <= params['min_items'] <= params['max_items']:
        raise ValueError(f'need 1 <= min_items <= max_items, got '
                         f'{params["min_items"]}, {params["max_items"]}')
    for key, value in params.items():
        if 'num_' in key and not (isinstance(value, int) and value >= 0):
            raise ValueError(f'{key} must be an integer >= 0, got {value!r}')
    if not params['fewshot_shots'] or min(params['fewshot_shots']) < 1:
        raise ValueError(f'fewshot_shots must be positive, got '
                         f'{params["fewshot_shots"]}')
    if not 0.0 <= params['ps_distractor_fraction'] <= 1.0:
        raise ValueError(f'ps_distractor_fraction must lie in [0, 1], got '
                         f'{params["ps_distractor_fraction"]}')
    scene_config(params)  # validates canvas / item_size / min_visible
    return params


def scene_config(params: dict, background: Palette = Palette()) -> SceneConfig:
    return SceneConfig(
        canvas=params['canvas'], item_size=tuple(params['item_size']),
        min_visible=params['min_visible'], place_tries=params['place_tries'],
        threshold=params['threshold'], shade_floor=params['shade_floor'],
        noise_std=params['noise_std'], background=background)


def json_params(params: dict) -> dict:
    """``params`` as they read back from JSON (tuples become lists)."""
    return json.loads(json.dumps(params))


def scene_rng(seed: int, stream: str, index: int) -> np.random.Generator:
    """The generator of scene ``index`` of ``stream`` (e.g. 'train',
    'foggy/val'): independent of every other scene."""
    return np.random.default_rng([seed, zlib.crc32(stream.encode()), index])


def item_pool(split: str, source, seed: int):
    """(Fashion-MNIST split, indices usable by FashionScenes ``split``).

    ``train`` uses all of Fashion-MNIST train; ``val`` and ``test`` use the two
    halves of a seeded permutation of Fashion-MNIST test.
    """
    if split == 'train':
        fmnist = load_fashion_mnist('train', source)
        return fmnist, np.arange(len(fmnist.labels))
    if split not in ('val', 'test'):
        raise ValueError(f'split must be one of {CORE_SPLITS}, got {split!r}')
    fmnist = load_fashion_mnist('test', source)
    order = scene_rng(seed, 'test-halves', 0).permutation(len(fmnist.labels))
    half = len(order) // 2
    return fmnist, np.sort(order[:half] if split == 'val' else order[half:])


def source_item(fmnist, index: int) -> SourceItem:
    return SourceItem(grey=fmnist.images[index],
                      category_id=int(fmnist.labels[index]) + 1,
                      source_index=int(index))


def random_items(rng: np.random.Generator, fmnist, pool: np.ndarray,
                 params: dict) -> list:
    """Between ``min_items`` and ``max_items`` items drawn uniformly from
    ``pool``."""
    count = int(rng.integers(params['min_items'], params['max_items'] + 1))
    return [source_item(fmnist, int(pool[i]))
            for i in rng.integers(len(pool), size=count)]


def write_split(writer: SplitWriter, stream: str, num_scenes: int, seed: int,
                fmnist, pool: np.ndarray, params: dict, config: SceneConfig,
                corrupt: Optional[Callable] = None,
                progress: bool = False) -> dict:
    """Compose and write ``num_scenes`` random scenes; returns the COCO dict.

    ``corrupt(rng, image) -> image`` post-processes each (S, S, 3) uint8
    image with the scene's own generator (the fog of the foggy variant).
    """
    for index in tqdm(range(num_scenes), desc=stream, disable=not progress):
        rng = scene_rng(seed, stream, index)
        scene = compose_scene(rng, random_items(rng, fmnist, pool, params),
                              config)
        if corrupt is not None:
            scene = dataclasses.replace(scene,
                                        image=corrupt(rng, scene.image))
        writer.add(index, scene)
    return writer.close()


def write_meta(path: str, name: str, preset: str, seed: int, params: dict,
               splits: dict, **extra) -> dict:
    """Write a build's meta.json (``extra``: variant-specific keys)."""
    meta = {'name': name, 'preset': preset, 'seed': seed,
            'canvas': params['canvas'], 'classes': list(FASHION_CLASSES),
            'seg_classes': list(SEG_CLASSES), 'splits': splits,
            'params': json_params(params), **extra}
    write_json(path, meta)
    return meta


def build_fashion_scenes(out_dir: str, preset: str = 'cpu', source=None,
                         seed: int = 0, splits=None, progress: bool = False,
                         **overrides) -> dict:
    """Build the core FashionScenes splits into ``out_dir``; returns meta.json.

    Args:
        out_dir: output root (see the module docstring for the layout).
        preset: a key of ``PRESETS``.
        source: Fashion-MNIST folder (default: Debian's install location).
        seed: drives every random choice.
        splits: subset of ('train', 'val', 'test') to build (default: all).
            Splits built earlier with the same parameters stay in meta.json.
        progress: show a tqdm progress bar per split.
        **overrides: any ``PRESETS`` parameter, e.g. ``canvas=64``.
    """
    params = resolve_params(preset, seed, overrides)
    if splits is None:
        splits = CORE_SPLITS
    elif isinstance(splits, str):
        splits = (splits, )
    for split in splits:
        if split not in CORE_SPLITS:
            raise ValueError(f'unknown split {split!r}; choose from '
                             f'{CORE_SPLITS}')
    meta_path = os.path.join(out_dir, 'meta.json')
    counts = previous_split_counts(meta_path, preset, seed, params)
    config = scene_config(params)
    for split in splits:
        fmnist, pool = item_pool(split, source, seed)
        write_split(SplitWriter(os.path.join(out_dir, split)), split,
                    params[f'num_{split}'], seed, fmnist, pool, params,
                    config, progress=progress)
        counts[split] = params[f'num_{split}']
    ordered = {split: counts[split] for split in CORE_SPLITS if split in counts}
    return write_meta(meta_path, 'fashion_scenes', preset, seed, params,
                      ordered)


def build_mismatch(out_dir: str, preset: str = 'cpu', seed: int = 0,
                   **overrides) -> Optional[str]:
    """Why the core build in ``out_dir`` is not what ``preset`` (with
    ``seed`` and ``overrides``) builds today, or None when it is: a missing
    meta.json or split, another preset or seed, or parameters that have
    changed since (named with both values)."""
    meta_path = os.path.join(out_dir, 'meta.json')
    if not os.path.isfile(meta_path):
        return f'{meta_path} not found'
    meta = load_json(meta_path)
    reason = meta_mismatch(meta, preset, seed,
                           resolve_params(preset, seed, overrides))
    if reason:
        return f'{out_dir} {reason}'
    missing = [split for split in CORE_SPLITS
               if split not in meta.get('splits', {})]
    if missing:
        return f'{out_dir} lacks the split(s) {", ".join(missing)}'
    return None


def meta_mismatch(meta: dict, preset: str, seed: int,
                  params: dict) -> Optional[str]:
    """How a meta.json differs from ``preset``, ``seed`` and ``params``
    (naming each changed parameter with both values), or None."""
    if (meta.get('preset'), meta.get('seed')) != (preset, seed):
        return (f'is a {meta.get("preset")!r} build with seed '
                f'{meta.get("seed")}, not {preset!r} with seed {seed}')
    want, have = json_params(params), meta.get('params', {})
    changed = [f'{key} {have.get(key)!r} (now {want.get(key)!r})'
               for key in sorted(set(want) | set(have))
               if have.get(key) != want.get(key)]
    if changed:
        return (f'was built with other {preset!r} parameters: '
                + ', '.join(changed))
    return None


def previous_split_counts(meta_path: str, preset: str, seed: int,
                          params: dict) -> dict:
    """Splits already in ``meta_path`` when it was built with the same
    preset, seed and parameters (so they can stay listed); else none."""
    if not os.path.isfile(meta_path):
        return {}
    meta = load_json(meta_path)
    same = meta_mismatch(meta, preset, seed, params) is None
    return dict(meta.get('splits', {})) if same else {}
