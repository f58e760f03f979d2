"""Per-class FIFO queues of RoI features, identical on every DDP rank.

``push`` all-gathers the (feature, label) pairs of every rank (in rank
order) before enqueueing, so each rank enqueues the same rows in the same
order and the queues, their means and any prototypes derived from them stay
identical across ranks. Every rank must call ``push`` the same number of
times (with zero rows when it has nothing to add).
"""
from typing import List, Tuple

import torch
import torch.nn as nn
from mmengine.dist import all_gather, get_world_size


def all_gather_rows(*tensors: torch.Tensor) -> Tuple[torch.Tensor, ...]:
    """Concatenate, in rank order, the rows of tensors whose first dimension
    may differ between ranks (``torch.distributed.all_gather`` needs equal
    shapes, so rows are padded to the largest count and trimmed after)."""
    if get_world_size() == 1:
        return tensors
    count = torch.tensor([tensors[0].shape[0]], device=tensors[0].device)
    counts = [int(c) for c in all_gather(count)]
    largest = max(counts)
    gathered = []
    for tensor in tensors:
        padded = tensor.new_zeros((largest, *tensor.shape[1:]))
        padded[:tensor.shape[0]] = tensor
        parts = all_gather(padded)
        gathered.append(torch.cat([part[:n] for part, n in zip(parts, counts)]))
    return tuple(gathered)


class ClassFeatureQueue(nn.Module):
    """``num_classes`` FIFO queues holding up to ``size`` features of ``dim``.

    Buffers (saved in checkpoints): ``features`` (K, size, dim), ``counts``
    (K,) valid entries per class and ``heads`` (K,) next write position.
    """

    def __init__(self, num_classes: int, dim: int, size: int = 128):
        super().__init__()
        if min(num_classes, dim, size) <= 0:
            raise ValueError(f'num_classes, dim and size must be positive, got '
                             f'{num_classes}, {dim}, {size}')
        self.num_classes, self.dim, self.size = num_classes, dim, size
        self.register_buffer('features', torch.zeros(num_classes, size, dim))
        self.register_buffer('counts', torch.zeros(num_classes, dtype=torch.long))
        self.register_buffer('heads', torch.zeros(num_classes, dtype=torch.long))

    @torch.no_grad()
    def push(self, feats: torch.Tensor, labels: torch.Tensor) -> None:
        """Enqueue ``feats`` (n, dim) under ``labels`` (n,) of every rank;
        the oldest entries of a full queue are overwritten."""
        if feats.ndim != 2 or feats.shape[1] != self.dim:
            raise ValueError(f'feats must be (n, {self.dim}), got '
                             f'{tuple(feats.shape)}')
        if labels.shape != feats.shape[:1]:
            raise ValueError(f'labels must be ({feats.shape[0]},), got '
                             f'{tuple(labels.shape)}')
        feats, labels = all_gather_rows(
            feats.detach().to(self.features), labels.to(self.counts))
        if len(labels) and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(f'labels must lie in [0, {self.num_classes}), got '
                             f'{labels.min().item()}..{labels.max().item()}')
        for cls in labels.unique().tolist():
            rows = feats[labels == cls][-self.size:]
            positions = (self.heads[cls] + torch.arange(
                len(rows), device=rows.device)) % self.size
            self.features[cls, positions] = rows
            self.heads[cls] = (self.heads[cls] + len(rows)) % self.size
            self.counts[cls] = torch.clamp(self.counts[cls] + len(rows),
                                           max=self.size)

    def mean(self, cls: int) -> torch.Tensor:
        """(dim,) mean of class ``cls``'s queued features (zeros if empty)."""
        count = int(self.counts[cls])
        if count == 0:
            return self.features.new_zeros(self.dim)
        return self.features[cls, :count].mean(dim=0)

    def means(self) -> torch.Tensor:
        """(K, dim) per-class means (rows of empty classes are zero)."""
        return torch.stack([self.mean(c) for c in range(self.num_classes)])

    def nonempty(self) -> List[int]:
        return torch.where(self.counts > 0)[0].tolist()
