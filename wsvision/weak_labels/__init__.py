"""Weak-label generators: dense masks -> tags, points, scribbles, blocks, boxes.

Each generator is registered in ``WEAK_LABELERS`` and follows the interface of
``WeakLabeler`` (see ``base``). ``export_weak_labels`` runs them over a dataset
and stores the results; ``tools/data/make_weak_labels.py`` is its command line.
"""
from .base import Instance, WeakLabel, WeakLabeler
from .blocks import BlockLabeler
from .boxes import BoxLabeler
from .export import (WEAK_LABEL_TYPES, build_weak_labeler, export_weak_labels,
                     image_rng)
from .points import PointLabeler
from .scribbles import ScribbleLabeler
from .sources import CocoSplitSource, MaskFolderSource, MaskSample
from .tags import TagLabeler

__all__ = ['Instance', 'WeakLabel', 'WeakLabeler', 'TagLabeler',
           'PointLabeler', 'ScribbleLabeler', 'BlockLabeler', 'BoxLabeler',
           'WEAK_LABEL_TYPES', 'build_weak_labeler', 'image_rng',
           'export_weak_labels', 'CocoSplitSource', 'MaskFolderSource',
           'MaskSample']
