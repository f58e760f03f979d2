"""Photometric augmentation with albumentations.

``build_albumentations`` turns ``dict(type=<albumentations class name>,
...)`` configs into an ``albumentations.Compose``; ``Albu`` runs one on the
image of a pipeline (photometric transforms only: no pixel moves, so boxes,
masks and labels stay valid). The albumentations seed is drawn from numpy's
global generator (seeded by MMEngine), so a fixed run seed gives a fixed
augmentation stream.
"""
from typing import Sequence

import numpy as np

from ...registry import TRANSFORMS


def build_albumentations(transforms: Sequence[dict], where: str):
    """An ``albumentations.Compose`` from ``dict(type=<class name>, ...)``;
    errors name ``where`` and the index of the bad entry."""
    try:
        import albumentations
    except ImportError as e:
        raise ImportError(f'{where} needs albumentations '
                          '(pip install albumentations)') from e
    built = []
    for i, cfg in enumerate(transforms):
        cfg = dict(cfg)
        name = cfg.pop('type', None)
        transform_cls = getattr(albumentations, str(name), None)
        if transform_cls is None:
            raise KeyError(f'{where}[{i}]: albumentations has no transform '
                           f'{name!r}')
        built.append(transform_cls(**cfg))
    return albumentations.Compose(built)


def run_albumentations(compose, img: np.ndarray) -> np.ndarray:
    """``compose`` on ``img``, seeded from numpy's global generator."""
    compose.set_random_seed(int(np.random.randint(2 ** 31 - 1)))
    return compose(image=np.ascontiguousarray(img))['image']


@TRANSFORMS.register_module()
class Albu:
    """Photometric albumentations transforms on ``results['img']``.

    Args:
        transforms: albumentations configs (``type`` = class name), e.g.
            ``[dict(type='MultiplicativeNoise', multiplier=(0.5, 1.5),
            per_channel=True, p=1.0)]`` (random per-channel gains).
    """

    def __init__(self, transforms: Sequence[dict]):
        self.compose = build_albumentations(transforms, 'Albu.transforms')

    def __call__(self, results: dict) -> dict:
        results['img'] = run_albumentations(self.compose, results['img'])
        return results
