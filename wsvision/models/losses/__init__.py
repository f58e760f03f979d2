from .agmm import AGMMLoss, OnlineGaussianMixture
from .cross_entropy import PartialCrossEntropyLoss, labelled_mask, stack_labels

__all__ = ['AGMMLoss', 'OnlineGaussianMixture', 'PartialCrossEntropyLoss',
           'labelled_mask', 'stack_labels']
