"""Building the FashionScenes variants under ``OUT/<variant>/``.

``fewshot`` and ``ovd`` re-annotate the core ``train`` split: when ``OUT``
holds no core build yet, it is built first with the same preset, seed and
parameters; a core build made with other parameters is an error rather than
silently mixed in. ``foggy`` and ``person_search`` compose their own scenes.
"""
import os

from ..io import DataError, load_json
from .builder import (CORE_SPLITS, build_fashion_scenes, json_params,
                      resolve_params)
from .fewshot import build_fewshot
from .foggy import build_foggy
from .ovd import build_ovd
from .person_search import build_person_search

VARIANTS = ('fewshot', 'ovd', 'foggy', 'person_search')


def core_train_coco(out_dir: str, preset: str, params: dict, seed: int,
                    source, progress: bool) -> dict:
    """The core train COCO dict of ``out_dir``, building the core if absent."""
    meta_path = os.path.join(out_dir, 'meta.json')
    if not os.path.isfile(meta_path):
        build_fashion_scenes(out_dir, preset=preset, source=source, seed=seed,
                             progress=progress, **params)
    meta = load_json(meta_path)
    built = {'preset': meta.get('preset'), 'seed': meta.get('seed'),
             **meta.get('params', {})}
    wanted = {'preset': preset, 'seed': seed, **json_params(params)}
    differing = sorted(key for key in wanted if built.get(key) != wanted[key])
    if differing:
        raise DataError(
            f'{meta_path} was built with other settings ('
            + ', '.join(f'{key}: {built.get(key)!r} != {wanted[key]!r}'
                        for key in differing[:3])
            + '); rebuild the core or build the variant with its settings')
    missing = [split for split in CORE_SPLITS if split not in meta['splits']]
    if missing:
        raise DataError(f'{meta_path} lists no {missing} split(s); build them '
                        'first')
    return load_json(os.path.join(out_dir, 'train', 'instances.json'))


def build_variant(out_dir: str, variant: str, preset: str = 'cpu',
                  source=None, seed: int = 0, progress: bool = False,
                  **overrides) -> dict:
    """Build one of ``VARIANTS`` into ``out_dir/<variant>``.

    Arguments as for ``build_fashion_scenes``. Returns the variant's summary
    (its meta.json, or splits.json / classes.json for fewshot / ovd).
    """
    if variant not in VARIANTS:
        raise ValueError(f'unknown FashionScenes variant {variant!r}; choose '
                         f'one of {VARIANTS}')
    params = resolve_params(preset, seed, overrides)
    if variant in ('foggy', 'person_search'):
        build = build_foggy if variant == 'foggy' else build_person_search
        return build(out_dir, preset, params, seed, source, progress=progress)
    train_coco = core_train_coco(out_dir, preset, params, seed, source,
                                 progress)
    if variant == 'fewshot':
        return build_fewshot(out_dir, train_coco, params, seed)
    return build_ovd(out_dir, train_coco)
