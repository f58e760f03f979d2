"""Per-instance feature memories shared by every DDP rank.

A memory holds one L2-normalised feature per key (an instance id or an
identity) and an integer tag per key (e.g. the scene the instance belongs
to). ``update`` first gathers the (keys, features, tags) of every rank, so
all ranks apply the same updates in the same order and their memories stay
identical without a broadcast. The table grows on demand to the largest key
seen, so a config needs not know the size of the training set; a checkpoint
restores whatever size it was saved with.
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..teacher_student.memory import all_gather_rows


class FeatureMemory(nn.Module):
    """A momentum memory of features by key.

    Args:
        dim: feature width D.
        momentum: weight of the stored feature in an update,
            ``m <- normalise(momentum * m + (1 - momentum) * f)``; a key seen
            for the first time stores ``f``.

    Buffers: ``features`` (N, D), ``tags`` (N,) int64 and ``filled`` (N,) bool
    (whether the key was ever written).
    """

    def __init__(self, dim: int, momentum: float):
        super().__init__()
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f'momentum must lie in [0, 1), got {momentum}')
        self.dim, self.momentum = dim, momentum
        self.register_buffer('features', torch.zeros(0, dim))
        self.register_buffer('tags', torch.zeros(0, dtype=torch.long))
        self.register_buffer('filled', torch.zeros(0, dtype=torch.bool))

    def __len__(self) -> int:
        return self.features.shape[0]

    def grow(self, size: int) -> None:
        """Make room for keys ``0 .. size - 1`` (never shrinks)."""
        extra = size - len(self)
        if extra <= 0:
            return
        self.features = torch.cat([self.features,
                                   self.features.new_zeros(extra, self.dim)])
        self.tags = torch.cat([self.tags, self.tags.new_full((extra, ), -1)])
        self.filled = torch.cat([self.filled, self.filled.new_zeros(extra)])

    @torch.no_grad()
    def update(self, keys: torch.Tensor, feats: torch.Tensor,
               tags: Optional[torch.Tensor] = None) -> None:
        """Write features (n, D) at ``keys`` (n,) (and their ``tags``) from
        every rank; a key written twice in one call is updated twice, in rank
        order."""
        if tags is None:
            tags = torch.full_like(keys, -1)
        keys, feats, tags = all_gather_rows(keys, feats.detach().to(
            self.features.dtype), tags)
        if keys.numel() == 0:
            return
        self.grow(int(keys.max()) + 1)
        for key, feat, tag in zip(keys.tolist(), feats, tags.tolist()):
            if self.filled[key]:
                feat = self.momentum * self.features[key] + (
                    1 - self.momentum) * feat
            self.features[key] = F.normalize(feat, dim=0)
            self.tags[key] = tag
            self.filled[key] = True

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        stored = state_dict.get(prefix + 'features')
        if stored is not None:
            self.grow(stored.shape[0])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
