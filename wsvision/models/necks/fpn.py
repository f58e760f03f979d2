"""Feature pyramid network (Lin et al., CVPR 2017) over a backbone's stages.

A thin wrapper of ``torchvision.ops.FeaturePyramidNetwork``: it takes the
backbone's tuple of stage features and returns the named pyramid levels that
the RPN and the RoI head index by name.
"""
from collections import OrderedDict
from typing import Dict, Sequence, Tuple

import torch
from mmengine.model import BaseModule
from torchvision.ops import FeaturePyramidNetwork
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

from ...registry import MODELS


@MODELS.register_module()
class FPN(BaseModule):
    """Top-down pyramid with lateral 1x1 and output 3x3 convolutions.

    Args:
        in_channels: channels of each backbone feature, finest first.
        out_channels: channels of every pyramid level.
        extra_maxpool: append one coarser level, named ``'pool'``, by
            stride-2 max-pooling the coarsest output (the RPN's P6 in
            Faster R-CNN with FPN).

    ``forward`` maps a tuple of (B, in_channels[i], h_i, w_i) features to an
    ordered dict ``{'0': (B, out_channels, h_0, w_0), '1': ..., ['pool': ...]}``.
    """

    def __init__(self, in_channels: Sequence[int], out_channels: int = 256,
                 extra_maxpool: bool = False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.out_channels = out_channels
        self.fpn = FeaturePyramidNetwork(
            list(in_channels), out_channels,
            extra_blocks=LastLevelMaxPool() if extra_maxpool else None)
        self.num_inputs = len(in_channels)

    def forward(self, feats: Tuple[torch.Tensor, ...]) -> Dict[str, torch.Tensor]:
        if len(feats) != self.num_inputs:
            raise ValueError(f'FPN was built for {self.num_inputs} backbone '
                             f'features, got {len(feats)}')
        return self.fpn(OrderedDict((str(i), f) for i, f in enumerate(feats)))
