from .agmm import AGMMLoss, OnlineGaussianMixture
from .colour_affinity import ColourAffinityLoss
from .cross_entropy import PartialCrossEntropyLoss, labelled_mask, stack_labels

__all__ = ['AGMMLoss', 'ColourAffinityLoss', 'OnlineGaussianMixture',
           'PartialCrossEntropyLoss', 'labelled_mask', 'stack_labels']
