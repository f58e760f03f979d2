"""RoI classifiers: ``forward(roi_feats (N, D)) -> logits (N, K + 1)``.

The RoI head builds its classifier from a config with ``in_channels`` (D) and
``num_classes`` (K) filled in; column K is background. Open-vocabulary
detectors replace this module with one that scores against text embeddings.
"""
import torch
import torch.nn as nn

from ...registry import MODELS


@MODELS.register_module()
class LinearClassifier(nn.Module):
    """A fully connected layer to K foreground scores plus background."""

    def __init__(self, in_channels: int, num_classes: int):
        super().__init__()
        self.fc = nn.Linear(in_channels, num_classes + 1)
        nn.init.normal_(self.fc.weight, std=0.01)
        nn.init.zeros_(self.fc.bias)

    def forward(self, roi_feats: torch.Tensor) -> torch.Tensor:
        return self.fc(roi_feats)
