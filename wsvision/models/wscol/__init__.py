"""Data plumbing of WSCoL's source-free adaptation (the method itself is
``wsvision.models.detectors.wscol``)."""
from .target_data import (HIDDEN_META_KEYS, LoadHiddenAnnotations,
                          UnlabelledFashionScenesDataset)

__all__ = ['HIDDEN_META_KEYS', 'LoadHiddenAnnotations',
           'UnlabelledFashionScenesDataset']
