"""Language cross-attention of ConTEXTual Net, for feature maps of any rank."""
import torch
from torch import nn


class LanguageCrossAttention(nn.Module):
    """Gate visual features by what the sentence says.

    Voxels are the queries, the sentence's tokens the keys and values; the
    attention output passes through tanh and multiplies the features, so the
    text can damp or keep each voxel's features channel by channel.

    Args:
        channels: C, the width of the visual features.
        text_dim: D, the width of the text encoder's tokens.
        num_heads: attention heads (C must be divisible by it).
    """

    def __init__(self, channels: int, text_dim: int, num_heads: int = 1):
        super().__init__()
        if channels % num_heads:
            raise ValueError(f'channels ({channels}) must be divisible by '
                             f'num_heads ({num_heads})')
        self.text_projection = nn.Linear(text_dim, channels)
        self.attention = nn.MultiheadAttention(channels, num_heads,
                                               batch_first=True)

    def forward(self, feats: torch.Tensor, tokens: torch.Tensor,
                token_mask: torch.Tensor) -> torch.Tensor:
        """
        Args:
            feats: (B, C, *spatial) visual features.
            tokens: (B, L, D) token embeddings.
            token_mask: (B, L) bool, True on real tokens.

        Returns:
            (B, C, *spatial) gated features.
        """
        batch, channels = feats.shape[:2]
        queries = feats.flatten(2).transpose(1, 2)           # (B, N, C)
        keys = self.text_projection(tokens)                   # (B, L, C)
        attended, _ = self.attention(queries, keys, keys,
                                     key_padding_mask=~token_mask,
                                     need_weights=False)      # (B, N, C)
        gate = torch.tanh(attended).transpose(1, 2).reshape(feats.shape)
        return feats * gate
