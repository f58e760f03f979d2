"""DeepLabV3+ (Chen et al., ECCV 2018): ASPP on the last stage plus a decoder
that fuses the stride-4 low-level feature.

The segmentor returns, besides the logits, the fused decoder feature ``feat``
(B, C, H/4, W/4): the feature space in which AGMM fits its Gaussian mixture.
Losses are pluggable modules (``losses=[...]`` in the config), each called as
``loss(seg_logits=..., feat=..., data_samples=..., inputs=...)`` (``inputs``:
the normalised images) and returning a dict of named terms, so a
weakly-supervised method adds its terms without touching the network.
"""
from typing import Dict, List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.segmentation.deeplabv3 import ASPP

from ...registry import MODELS
from ..base_model import TaskModel
from ...structures import PixelData, SegDataSample


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int):
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size,
                  padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


@MODELS.register_module()
class DeepLabV3PlusHead(nn.Module):
    """ASPP + low-level decoder.

    Args:
        in_channels: channels of the last backbone stage.
        low_level_channels: channels of the stride-4 backbone stage.
        channels: width of ASPP and of the fused decoder feature.
        dilations: ASPP atrous rates.
        num_classes: K, including background.
    """

    def __init__(self, in_channels: int, low_level_channels: int,
                 channels: int = 256, dilations=(6, 12, 18),
                 low_level_proj: int = 48, num_classes: int = 21,
                 dropout: float = 0.1):
        super().__init__()
        self.num_classes = num_classes
        self.aspp = ASPP(in_channels, list(dilations), channels)
        self.low_level = conv_bn_relu(low_level_channels, low_level_proj, 1)
        self.fuse = nn.Sequential(
            conv_bn_relu(channels + low_level_proj, channels, 3),
            conv_bn_relu(channels, channels, 3))
        self.dropout = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        self.cls_seg = nn.Conv2d(channels, num_classes, 1)

    def forward(self, low_level: torch.Tensor, high_level: torch.Tensor):
        """Return ``(logits (B, K, h, w), feat (B, C, h, w))`` at the low-level size."""
        context = self.aspp(high_level)
        context = F.interpolate(context, size=low_level.shape[-2:],
                                mode='bilinear', align_corners=False)
        feat = self.fuse(torch.cat([context, self.low_level(low_level)], dim=1))
        return self.cls_seg(self.dropout(feat)), feat


@MODELS.register_module()
class EncoderDecoder(TaskModel):
    """Backbone + decode head + pluggable losses.

    Args:
        backbone: returns stage features; ``low_level_index`` and
            ``high_level_index`` pick the decoder inputs.
        decode_head: returns ``(logits, feat)``.
        losses: list of loss configs; each returns a dict of named terms.
    """

    def __init__(self, backbone: dict, decode_head: dict, losses: List[dict],
                 data_preprocessor: Optional[dict] = None,
                 low_level_index: int = 0, high_level_index: int = -1,
                 init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.decode_head = MODELS.build(decode_head)
        if not losses:
            raise ValueError('EncoderDecoder needs at least one loss in `losses`')
        self.losses = nn.ModuleList(MODELS.build(cfg) for cfg in losses)
        self.low_level_index = low_level_index
        self.high_level_index = high_level_index

    @property
    def num_classes(self) -> int:
        return self.decode_head.num_classes

    def encode_decode(self, inputs: torch.Tensor):
        """inputs (B, 3, H, W) -> logits (B, K, H, W), feat (B, C, H/4, W/4)."""
        stages = self.backbone(inputs)
        logits, feat = self.decode_head(stages[self.low_level_index],
                                        stages[self.high_level_index])
        logits = F.interpolate(logits, size=inputs.shape[-2:], mode='bilinear',
                               align_corners=False)
        return logits, feat

    def tensor_forward(self, inputs: torch.Tensor, data_samples=None):
        return self.encode_decode(inputs)[0]

    def loss(self, inputs, data_samples) -> Dict[str, torch.Tensor]:
        seg_logits, feat = self.encode_decode(inputs)
        terms = {}
        # Losses (mixture statistics, soft-max, log) run in float32 even when
        # the network runs under mixed-precision autocast.
        with torch.autocast(inputs.device.type, enabled=False):
            seg_logits, feat = seg_logits.float(), feat.float()
            for loss_module in self.losses:
                for name, value in loss_module(
                        seg_logits=seg_logits, feat=feat,
                        data_samples=data_samples, inputs=inputs).items():
                    if name in terms:
                        raise ValueError(
                            f'two losses both return the term {name!r}')
                    terms[name] = value
        return terms

    def predict(self, inputs, data_samples=None) -> List[SegDataSample]:
        seg_logits, _ = self.encode_decode(inputs)
        if data_samples is None:
            data_samples = [SegDataSample() for _ in range(len(inputs))]
        for logits, sample in zip(seg_logits, data_samples):
            # Batches are padded to a common size: crop back to the image.
            h, w = sample.metainfo.get('img_shape', logits.shape[-2:])
            logits = logits[:, :h, :w]
            ori_shape = sample.metainfo.get('ori_shape', (h, w))
            if tuple(ori_shape) != (h, w):
                logits = F.interpolate(logits[None], size=ori_shape,
                                       mode='bilinear', align_corners=False)[0]
            sample.seg_logits = PixelData(data=logits)
            sample.pred_sem_seg = PixelData(data=logits.argmax(0, keepdim=True))
        return data_samples
