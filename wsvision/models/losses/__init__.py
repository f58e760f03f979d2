from .agmm import AGMMLoss, OnlineGaussianMixture
from .box_tightness import BoxTightnessLoss
from .colour_affinity import ColourAffinityLoss
from .cross_entropy import PartialCrossEntropyLoss, labelled_mask, stack_boxes, stack_labels

__all__ = ['AGMMLoss', 'BoxTightnessLoss', 'ColourAffinityLoss', 'OnlineGaussianMixture',
           'PartialCrossEntropyLoss', 'labelled_mask', 'stack_boxes', 'stack_labels']
