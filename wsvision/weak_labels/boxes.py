"""Instance boxes: the tight box of every instance mask, with its class."""
from typing import List, Optional

import numpy as np

from ..registry import WEAK_LABELERS
from .base import Instance, WeakLabel, WeakLabeler
from .regions import bounding_slices

__all__ = ['BoxLabeler']


@WEAK_LABELERS.register_module()
class BoxLabeler(WeakLabeler):
    """Tight boxes around the instance masks.

    Boxes are int64 (N, 5) rows ``[x1, y1, x2, y2, class_id]`` in pixels with
    inclusive-exclusive corners: the box covers columns ``x1 .. x2 - 1`` and
    rows ``y1 .. y2 - 1``, so ``x2 - x1`` is the width and a COCO box
    ``[x, y, w, h]`` is ``[x, y, x + w, y + h]``. One row per non-empty
    instance mask, in instance order. Without instances, each 8-connected
    component of a non-background class is one box.
    """
    random = False
    output = 'boxes'
    uses_instances = True

    def _generate(self, semantic: np.ndarray,
                  instances: Optional[List[Instance]],
                  rng: Optional[np.random.Generator]) -> WeakLabel:
        rows = []
        for instance in instances:
            if not instance.mask.any():
                continue
            ys, xs = bounding_slices(instance.mask)
            rows.append([xs.start, ys.start, xs.stop, ys.stop, instance.class_id])
        return WeakLabel(boxes=np.array(rows, dtype=np.int64).reshape(-1, 5))
