"""Image-level tags: which classes appear in the image."""
from typing import List, Optional

import numpy as np

from ..registry import WEAK_LABELERS
from ..structures import IGNORE_INDEX
from .base import Instance, WeakLabel, WeakLabeler

__all__ = ['TagLabeler']


@WEAK_LABELERS.register_module()
class TagLabeler(WeakLabeler):
    """Sorted ids of the classes present in the semantic mask.

    Background is left out by default, as in the usual image-level protocol
    (VOC tags name the 20 object classes); ``include_background=True`` adds
    ``background_id`` when the image has background pixels. Ignored pixels
    never contribute a tag. Instances are not used.
    """
    random = False
    output = 'tags'

    def __init__(self, *, include_background: bool = False,
                 ignore_index: Optional[int] = 255,
                 background_id: Optional[int] = 0):
        super().__init__(ignore_index=ignore_index, background_id=background_id)
        self.include_background = include_background

    def _generate(self, semantic: np.ndarray,
                  instances: Optional[List[Instance]],
                  rng: Optional[np.random.Generator]) -> WeakLabel:
        present = np.unique(semantic)
        excluded = {IGNORE_INDEX}
        if not self.include_background:
            excluded.add(self.background_id)
        return WeakLabel(tags=[int(c) for c in present if c not in excluded])
