from . import backbones, detectors, losses, necks, roi_heads, rpn, segmentors

__all__ = ['backbones', 'detectors', 'losses', 'necks', 'roi_heads', 'rpn',
           'segmentors']
