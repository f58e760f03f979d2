from . import teacher_student  # noqa: F401 (registers hooks and transforms)
from . import backbones, detectors, losses, necks, roi_heads, rpn, segmentors
from . import person_search

__all__ = ['backbones', 'detectors', 'losses', 'necks', 'roi_heads', 'rpn',
           'segmentors']
from . import ovd  # noqa: F401 (MarvelOVD, its datasets and transforms)
