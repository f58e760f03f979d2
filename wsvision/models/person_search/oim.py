"""The fully supervised upper bound: Online Instance Matching (Xiao et al.,
CVPR 2017), the only loss of wsvision's person search that reads identities.

A lookup table holds one feature per identity (momentum 0.5); an embedding
is classified against it with a scaled softmax (scale 30) and the
cross-entropy pulls it to its identity's entry. Embeddings of unlabelled
persons (identity -1) give no term. The table is a ``FeatureMemory``, so it
is the same on every DDP rank.
"""
from typing import Dict

import torch
import torch.nn.functional as F

from ...registry import MODELS
from .batch import ReIDBatch
from .memory import FeatureMemory


@MODELS.register_module()
class OIMLoss(torch.nn.Module):
    """OIM on the positive RoIs of a ``ReIDBatch``.

    Args:
        embed_dim: embedding width D.
        momentum: lookup-table momentum.
        scale: softmax scale (inverse temperature).
        loss_weight: weight of the loss.
    """

    wants_exemplars = False

    def __init__(self, embed_dim: int, momentum: float = 0.5,
                 scale: float = 30.0, loss_weight: float = 1.0):
        super().__init__()
        self.lookup_table = FeatureMemory(embed_dim, momentum)
        self.scale, self.loss_weight = scale, loss_weight

    def forward(self, batch: ReIDBatch) -> Dict[str, torch.Tensor]:
        if batch.gt_person_ids is None:
            raise ValueError('OIMLoss needs identities: load person_id into '
                             'gt_instances.person_ids (for FashionScenes: '
                             'with_identities=True)')
        table = self.lookup_table
        targets = batch.gt_person_ids[batch.roi_gt]
        # Identities already in the table (as it was before this batch).
        loss = batch.roi_embeds.sum() * 0
        known = ((targets >= 0) & (targets < len(table))
                 & table.filled[targets.clamp(0, len(table) - 1)]
                 if len(table) else torch.zeros_like(targets, dtype=torch.bool))
        if known.any():
            logits = self.scale * batch.roi_embeds[known] @ table.features.clone().T
            logits = logits.masked_fill(~table.filled[None], float('-inf'))
            loss = self.loss_weight * F.cross_entropy(logits, targets[known])
        labelled = batch.gt_person_ids >= 0
        table.update(batch.gt_person_ids[labelled], batch.gt_embeds[labelled])
        return dict(loss_oim=loss)
