"""Point labels: one click per instance plus a few background clicks."""
from typing import List, Optional

import numpy as np

from ..registry import WEAK_LABELERS
from .base import Instance, WeakLabel, WeakLabeler, agreeing_region, new_sparse_mask
from .regions import bounding_slices, interior, sample_pixels, stroke_mask

__all__ = ['PointLabeler']


@WEAK_LABELERS.register_module()
class PointLabeler(WeakLabeler):
    """Clicks drawn uniformly from the interior of each instance and of background.

    - Each instance gets one click at a pixel more than ``margin`` px from its
      boundary: every pixel within distance ``margin`` of the click belongs to
      the instance (the image frame counts as boundary). An instance with no
      such pixel (a thin strap) is clicked at one of its deepest pixels, the
      maxima of its distance transform.
    - ``num_background`` clicks go on distinct background pixels more than
      ``margin`` px from any object, ignored pixel or the frame (again the
      deepest background pixels when none is that far). None are drawn when
      ``background_id`` is ``None``.
    - ``radius`` 0 labels the clicked pixel only; ``radius`` r labels the disc
      of radius r around it, clipped to the instance (or background) and to
      the part of it that contains the click, so every labelled pixel carries
      its ground-truth class.

    Instances are clipped to the pixels the semantic mask gives their class; an
    instance with no such pixel gets no click.
    """
    uses_instances = True

    def __init__(self, *, num_background: int = 3, margin: float = 2,
                 radius: int = 0, ignore_index: Optional[int] = 255,
                 background_id: Optional[int] = 0):
        super().__init__(ignore_index=ignore_index, background_id=background_id)
        if num_background < 0 or radius < 0 or margin < 0:
            raise ValueError('PointLabeler: num_background, margin and radius '
                             f'must be >= 0, got {num_background}, {margin}, '
                             f'{radius}')
        self.num_background = num_background
        self.margin = margin
        self.radius = radius

    def _generate(self, semantic: np.ndarray,
                  instances: Optional[List[Instance]],
                  rng: Optional[np.random.Generator]) -> WeakLabel:
        sparse = new_sparse_mask(semantic)
        for instance in instances:
            region = agreeing_region(instance, semantic)
            if not region.any():
                continue
            crop = bounding_slices(region)
            click = sample_pixels(interior(region[crop], self.margin), 1, rng)
            disc_mask = stroke_mask(click, region[crop], self.radius)
            sparse[crop][disc_mask] = instance.class_id
        if self.background_id is not None and self.num_background:
            background = semantic == self.background_id
            clicks = sample_pixels(interior(background, self.margin),
                                   self.num_background, rng)
            discs = stroke_mask(clicks, background, self.radius)
            sparse[discs] = self.background_id
        return WeakLabel(sparse_mask=sparse)
