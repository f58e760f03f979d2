"""MONAI's DynUNet with language cross-attention in its decoder up-blocks."""
from typing import Optional, Sequence

import torch
from monai.networks.nets import DynUNet
from torch import nn

from .language_attention import LanguageCrossAttention


class TextConditionedDynUNet(DynUNet):
    """DynUNet whose first ``text_levels`` decoder up-blocks read the text.

    In each such up-block the upsampled features are gated by
    ``LanguageCrossAttention`` before they are concatenated with the skip
    connection. With the paper's filters (64, 96, 128, 192, 256) and
    ``text_levels=3`` the gates sit at widths 192, 128 and 96. With
    ``text_dim=None`` it is the plain DynUNet (the no-text baseline).

    Args:
        text_dim: token width D of the text encoder, or ``None``.
        text_levels: how many up-blocks, from the deepest, are gated.
        num_heads: attention heads per gate.
        **dynunet_kwargs: ``monai.networks.nets.DynUNet`` arguments.
    """

    def __init__(self, text_dim: Optional[int] = None, text_levels: int = 3,
                 num_heads: int = 1, **dynunet_kwargs):
        super().__init__(**dynunet_kwargs)
        up_widths = list(self.filters[:-1])[::-1]  # deepest first
        if text_dim is not None and not 0 < text_levels <= len(up_widths):
            raise ValueError(f'text_levels must be in 1..{len(up_widths)}, '
                             f'got {text_levels}')
        self.language_gates = nn.ModuleList(
            [LanguageCrossAttention(width, text_dim, num_heads)
             for width in up_widths[:text_levels]]
            if text_dim is not None else [])

    def forward(self, x: torch.Tensor, tokens: Optional[torch.Tensor] = None,
                token_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """
        Args:
            x: (B, C_in, X, Y, Z) image.
            tokens: (B, L, D) token embeddings (needed when gated).
            token_mask: (B, L) bool, True on real tokens.

        Returns:
            (B, out_channels, X', Y', Z') logits, X' = X / strides[0].
        """
        if len(self.language_gates) and tokens is None:
            raise ValueError('this network is text-conditioned: pass tokens '
                             'and token_mask')
        skips = [self.input_block(x)]
        for down in self.downsamples:
            skips.append(down(skips[-1]))
        out = self.bottleneck(skips[-1])
        for level, up in enumerate(self.upsamples):
            out = up.transp_conv(out)
            if level < len(self.language_gates):
                out = self.language_gates[level](out, tokens, token_mask)
            out = up.conv_block(torch.cat([out, skips[-1 - level]], dim=1))
        return self.output_block(out)


def build_dynunet(filters: Sequence[int], strides: Sequence[int],
                  in_channels: int = 2, out_channels: int = 2,
                  kernel_size: int = 3, res_block: bool = True,
                  norm_name='instance', text_dim: Optional[int] = None,
                  text_levels: int = 3, num_heads: int = 1
                  ) -> TextConditionedDynUNet:
    """The paper's 3-D DynUNet: 3^3 kernels, residual blocks, instance norm."""
    if len(filters) != len(strides):
        raise ValueError(f'filters {tuple(filters)} and strides '
                         f'{tuple(strides)} must have the same length')
    return TextConditionedDynUNet(
        text_dim=text_dim, text_levels=text_levels, num_heads=num_heads,
        spatial_dims=3, in_channels=in_channels, out_channels=out_channels,
        kernel_size=[kernel_size] * len(strides), strides=list(strides),
        upsample_kernel_size=list(strides[1:]), filters=list(filters),
        norm_name=norm_name, res_block=res_block)
