"""ResNet-18/34/50/101 with a configurable width, built from torchvision's blocks.

torchvision's ``ResNet`` fixes the stem at 64 channels; wsvision trains from
scratch on CPUs, so the width is a constructor argument. With
``base_channels=64`` the parameter names and shapes match torchvision's
``resnet18/34/50/101``, so a user's local ImageNet weights load with
``init_cfg=dict(type='Pretrained', checkpoint=PATH)``.
"""
from typing import Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from torchvision.models.resnet import BasicBlock, Bottleneck

from ...registry import MODELS

ARCH_SETTINGS = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
}


@MODELS.register_module()
class ResNet(BaseModule):
    """ResNet returning the feature maps of the stages in ``out_indices``.

    Args:
        depth: 18, 34, 50 or 101.
        base_channels: width of the stem and of stage 1 (64 in torchvision).
        strides: per-stage strides; with ``dilations`` they set the output
            stride (e.g. strides (1, 2, 1, 1) and dilations (1, 1, 2, 4) give
            output stride 8).
        stem_pool: keep the stem's max-pool (stride 4 before stage 1). Without
            it the stem has stride 2, as in ResNets for small images: each
            stage sees twice the resolution at four times the cost.
        out_indices: which stages (0..3) to return.
        norm_eval: keep every BatchNorm in eval mode while training: its
            running statistics stay those it was loaded with (its affine
            weights still train), as mmdetection's ``norm_eval``.

    Returns from ``forward``: a tuple of (B, C_i, H / s_i, W / s_i) tensors.
    """

    def __init__(self, depth: int = 18, base_channels: int = 64,
                 in_channels: int = 3, strides: Sequence[int] = (1, 2, 2, 2),
                 dilations: Sequence[int] = (1, 1, 1, 1),
                 stem_pool: bool = True,
                 out_indices: Sequence[int] = (0, 1, 2, 3), norm_eval: bool = False,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.norm_eval = norm_eval
        if depth not in ARCH_SETTINGS:
            raise ValueError(f'ResNet depth must be one of '
                             f'{sorted(ARCH_SETTINGS)}, got {depth}')
        block, stage_blocks = ARCH_SETTINGS[depth]
        self.out_indices = tuple(out_indices)
        self.conv1 = nn.Conv2d(in_channels, base_channels, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(base_channels)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1) if stem_pool else nn.Identity()
        self.inplanes = base_channels
        self.out_channels = []
        for i, num_blocks in enumerate(stage_blocks):
            planes = base_channels * 2 ** i
            layer = self._make_layer(block, planes, num_blocks, strides[i],
                                     dilations[i])
            self.add_module(f'layer{i + 1}', layer)
            self.out_channels.append(planes * block.expansion)
        if init_cfg is None:
            self._init_from_scratch()

    def _make_layer(self, block, planes, num_blocks, stride, dilation):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride,
                          bias=False),
                nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, num_blocks)]
        if dilation > 1:
            # torchvision's blocks take no dilation argument for BasicBlock:
            # set it on the 3x3 convolutions directly (padding = dilation).
            for module in layers:
                for conv in module.modules():
                    if isinstance(conv, nn.Conv2d) and conv.kernel_size == (3, 3):
                        conv.dilation, conv.padding = (dilation,) * 2, (dilation,) * 2
        return nn.Sequential(*layers)

    def _init_from_scratch(self):
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out',
                                        nonlinearity='relu')
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        # Zero-init the last BN of each residual branch: trains faster from scratch.
        for m in self.modules():
            if isinstance(m, BasicBlock):
                nn.init.zeros_(m.bn2.weight)
            elif isinstance(m, Bottleneck):
                nn.init.zeros_(m.bn3.weight)

    def train(self, mode: bool = True) -> 'ResNet':
        super().train(mode)
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        return self

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        outs = []
        for i in range(4):
            x = getattr(self, f'layer{i + 1}')(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
