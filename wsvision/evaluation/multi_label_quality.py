"""How good are the SSL multi-labels? An analysis against hidden identities.

SSL (``wsvision.models.person_search.ssl``) learns from multi-labels that it
reads off its own memory: Y = [S >= t] with the scene prior. Whether those
labels name the same person is invisible in training (no identities), but a
benchmark with hidden identities can measure it afterwards. Given the memory
M (N, D), which rows exist, each row's scene and its hidden identity
(-1: unknown), ``multi_label_quality`` reports, for the label threshold t:

- ``positives_per_instance``: mean number of labels per instance (its own
  entry excluded);
- ``precision``: share of those labels with the instance's identity;
- ``recall``: share of the instance's other-scene appearances labelled;
- ``nn_same_identity``: how often the most similar entry of another scene has
  the instance's identity (the best a one-label rule could do);
- ``cosine_other_mean`` / ``cosine_other_p99``: cosine between entries of
  different identities (near 1 means the memory collapsed).

Only instances with an identity are scored; entries without one still count
as (wrong) labels. ``tools/analysis/ssl_label_quality.py`` runs it on a
checkpoint.
"""
from typing import Dict, Optional

import torch

from ..models.person_search.ssl import scene_prior_labels


def multi_label_quality(memory: torch.Tensor, valid: torch.Tensor,
                        scenes: torch.Tensor, identities: torch.Tensor,
                        threshold: float, scene_prior: bool = True,
                        max_pairs: Optional[int] = 2_000_000) -> Dict[str, float]:
    """Scores of the multi-labels of ``memory`` (see the module docstring).

    memory: (N, D) L2-normalised rows; valid: (N,) bool rows that exist;
    scenes: (N,) scene of each row; identities: (N,) hidden identity, -1 for
    unknown. ``max_pairs`` caps the different-identity cosines used for the
    99th percentile (an evenly spaced subset; None keeps all).
    """
    n = memory.shape[0]
    for name, value in (('valid', valid), ('scenes', scenes),
                        ('identities', identities)):
        if value.shape != (n, ):
            raise ValueError(f'multi_label_quality: {name} must have shape '
                             f'({n},), got {tuple(value.shape)}')
    known = valid & (identities >= 0)
    if not known.any():
        raise ValueError('multi_label_quality: no valid memory row has an '
                         'identity')
    similarity = memory @ memory.T
    rows = known.nonzero()[:, 0]
    labels = scene_prior_labels(similarity[rows], scenes[rows], scenes,
                                threshold, valid, scene_prior)
    labels[torch.arange(len(rows)), rows] = False  # its own entry
    same = identities[rows][:, None] == identities[None]
    other_scene = scenes[rows][:, None] != scenes[None]
    appearances = (same & other_scene & valid[None]).sum()
    positives = labels.sum()
    correct = (labels & same).sum()

    nearest = similarity[rows].masked_fill(~(other_scene & valid[None]),
                                           float('-inf')).argmax(1)
    has_other = (other_scene & valid[None]).any(1)
    nn_same = (identities[nearest] == identities[rows]) & has_other

    different = (identities[:, None] != identities[None]) & known[:, None] & \
        known[None]
    cosines = similarity[different]
    if max_pairs is not None and cosines.numel() > max_pairs:
        step = cosines.numel() // max_pairs
        cosines = cosines[::step]
    return dict(
        threshold=float(threshold),
        scored_instances=int(len(rows)),
        positives_per_instance=positives.item() / len(rows),
        precision=correct.item() / max(positives.item(), 1),
        recall=correct.item() / max(appearances.item(), 1),
        nn_same_identity=nn_same.float().mean().item(),
        cosine_other_mean=cosines.mean().item() if cosines.numel() else float('nan'),
        cosine_other_p99=(cosines.float().quantile(0.99).item()
                          if cosines.numel() else float('nan')))
