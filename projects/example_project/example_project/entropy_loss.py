"""Entropy minimisation on unlabelled pixels (Grandvalet & Bengio, 2005)."""
import torch.nn as nn

from wsvision.models.losses import labelled_mask, stack_labels
from wsvision.registry import MODELS
from wsvision.structures import IGNORE_INDEX


@MODELS.register_module()
class EntropyMinimisationLoss(nn.Module):
    """Mean prediction entropy over pixels that carry no weak label.

    Padding (255) is excluded; only the "unlabelled" pixels (254) count.
    """

    def __init__(self, loss_weight: float = 0.1):
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, seg_logits, data_samples, **kwargs):
        labels = stack_labels(data_samples).to(seg_logits.device)
        unlabelled = ~labelled_mask(labels) & (labels != IGNORE_INDEX)
        log_prob = seg_logits.log_softmax(1)
        entropy = -(log_prob.exp() * log_prob).sum(1)
        value = entropy[unlabelled].mean() if unlabelled.any() else entropy.sum() * 0
        return dict(loss_entropy=self.loss_weight * value)
