"""Scribbles: a stroke along each instance's medial axis plus background strokes."""
from typing import List, Optional

import numpy as np

from ..registry import WEAK_LABELERS
from .base import Instance, WeakLabel, WeakLabeler, agreeing_region, new_sparse_mask
from .medial_axis import medial_path
from .regions import (bounding_slices, interior, largest_component,
                      sample_pixels, stroke_mask)

__all__ = ['ScribbleLabeler', 'smooth_random_path']


def smooth_random_path(allowed: np.ndarray, length: int, curvature: float,
                       rng: np.random.Generator) -> np.ndarray:
    """A smooth random curve inside ``allowed``, grown both ways from a random pixel.

    The pen moves one pixel per step and turns by a normal(0, ``curvature``)
    angle (radians) each step, so the curve bends gently like a hand-drawn
    stroke. Each half is ``length // 2`` steps long and stops early at the
    first pixel outside ``allowed``. allowed: (H, W) bool, non-empty. Returns
    int64 (L, 2) (y, x) pixels, consecutive ones equal or 8-adjacent.
    """
    start = sample_pixels(allowed, 1, rng)[0]
    heading = rng.uniform(0.0, 2.0 * np.pi)
    halves = []
    for direction in (heading + np.pi, heading):
        headings = direction + np.cumsum(rng.normal(0.0, curvature, length // 2))
        # Unit steps and floor(x + 0.5) rounding move at most one pixel per
        # axis per step, which keeps the curve 8-connected.
        offsets = np.cumsum(np.stack([np.sin(headings), np.cos(headings)], 1), 0)
        pixels = np.floor(start + offsets + 0.5).astype(np.int64)
        inside = ((pixels >= 0) & (pixels < allowed.shape)).all(axis=1)
        inside[inside] = allowed[pixels[inside, 0], pixels[inside, 1]]
        stop = int(np.argmin(inside)) if not inside.all() else len(inside)
        halves.append(pixels[:stop])
    backward, forward = halves
    return np.concatenate([backward[::-1], start[None], forward])


@WEAK_LABELERS.register_module()
class ScribbleLabeler(WeakLabeler):
    """A ``width`` px stroke through every instance plus background strokes.

    - Instance strokes follow the medial axis (``medial_path``) of the
      instance's largest 8-connected part, from end to end of its longest
      extent, with both ends trimmed to pixels more than ``margin`` px inside.
      The stroke is clipped to that part, so it is one connected stroke per
      instance, and every instance with a pixel of its class in the semantic
      mask gets one.
    - ``num_background`` background strokes are smooth random curves
      (``smooth_random_path``) through background pixels more than ``margin``
      px from any object, ignored pixel or the frame; each is at most
      ``background_length`` times the shorter image side long and is clipped
      to background. None are drawn when ``background_id`` is ``None``.

    The medial path is deterministic; ``rng`` drives the background strokes.
    ``width`` is odd: the pen is a disc of radius ``width // 2`` centred on
    the path.
    """
    uses_instances = True

    def __init__(self, *, width: int = 3, margin: float = 2,
                 num_background: int = 3, background_length: float = 0.3,
                 curvature: float = 0.1, ignore_index: Optional[int] = 255,
                 background_id: Optional[int] = 0):
        super().__init__(ignore_index=ignore_index, background_id=background_id)
        if width < 1 or width % 2 == 0:
            raise ValueError('ScribbleLabeler: width must be a positive odd '
                             f'number of pixels, got {width}')
        if num_background < 0 or margin < 0 or background_length < 0:
            raise ValueError('ScribbleLabeler: num_background, margin and '
                             'background_length must be >= 0, got '
                             f'{num_background}, {margin}, {background_length}')
        self.width = width
        self.margin = margin
        self.num_background = num_background
        self.background_length = background_length
        self.curvature = curvature

    def _generate(self, semantic: np.ndarray,
                  instances: Optional[List[Instance]],
                  rng: Optional[np.random.Generator]) -> WeakLabel:
        sparse = new_sparse_mask(semantic)
        for instance in instances:
            region = agreeing_region(instance, semantic)
            if not region.any():
                continue
            crop = bounding_slices(region)
            part = largest_component(region[crop])
            path = medial_path(part, self.margin)
            stroke = stroke_mask(path, part, self.width // 2)
            sparse[crop][stroke] = instance.class_id
        if self.background_id is not None and self.num_background:
            background = semantic == self.background_id
            if background.any():
                allowed = interior(background, self.margin)
                length = int(self.background_length * min(semantic.shape))
                for _ in range(self.num_background):
                    path = smooth_random_path(allowed, length, self.curvature, rng)
                    stroke = stroke_mask(path, background, self.width // 2)
                    sparse[stroke] = self.background_id
        return WeakLabel(sparse_mask=sparse)
