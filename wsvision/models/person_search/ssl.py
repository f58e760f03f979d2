"""SSL: weakly-supervised person search driven by self-similarity (ICCV 2023).

Trained with boxes only (methods.md, section 5). On top of the detector's
re-ID embeddings, SSL adds

1. a **multi-scale exemplar branch** (training only): each ground-truth person
   is cropped, its background masked out by the instance mask, and resized to
   K = 3 scales picked by k-means on the training box sizes plus its original
   size; the shared backbone encodes every crop (``kmeans_box_scales``,
   ``exemplar_inputs``);
2. the **scale-invariant loss** L_scale: a hard-mining triplet (margin 0.3)
   whose positive is the farthest exemplar of the same person and whose
   negative is the closest exemplar of another person of the same image,
   plus gamma = 0.05 times the distance to the original-scale exemplar
   (``scale_invariant_loss``);
3. **dynamic multi-label learning** L_DML: two momentum memories (0.8) of
   instance features, from the main branch and from the mean of the
   exemplars; S = M M^T on their mean M; multi-labels Y = [S >= t] with
   t = 0.6 + 0.1 exp(-0.05 epoch) (``label_threshold``); the scene prior
   (two persons of one image never share an identity,
   ``scene_prior_labels``); a multi-label loss with balance factor 5
   (``multi_label_loss``).

Total loss: L_det + L_scale + L_DML. ``SSLLoss`` holds the memories and
switches every part on or off; the weak baseline is SSLLoss with
``multi_label=False`` and ``scale_invariant=False``: each instance is its own
class against the memory (instance discrimination). ``SSLScheduleHook`` feeds
it the epoch and fits the exemplar scales on the training boxes.
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from ...registry import HOOKS, MODELS
from .batch import ReIDBatch
from .memory import FeatureMemory


# ------------------------------------------------ multi-scale exemplar branch
def kmeans_box_scales(box_sizes: np.ndarray, k: int = 3,
                      iters: int = 100) -> np.ndarray:
    """Cluster box sizes (N, 2) [w, h] into ``k`` sizes (k, 2), smallest
    area first (Lloyd's k-means, started at the area quantiles so that the
    result is deterministic)."""
    box_sizes = np.asarray(box_sizes, dtype=np.float64).reshape(-1, 2)
    if len(box_sizes) < k:
        raise ValueError(f'k-means of {k} box scales needs at least {k} boxes, '
                         f'got {len(box_sizes)}')
    areas = box_sizes.prod(axis=1)
    order = np.argsort(areas, kind='stable')
    starts = order[((np.arange(k) + 0.5) / k * len(order)).astype(int)]
    centers = box_sizes[starts].copy()
    for _ in range(iters):
        nearest = ((box_sizes[:, None] - centers[None]) ** 2).sum(-1).argmin(1)
        updated = np.stack([box_sizes[nearest == c].mean(0)
                            if (nearest == c).any() else centers[c]
                            for c in range(k)])
        if np.allclose(updated, centers):
            break
        centers = updated
    return centers[np.argsort(centers.prod(axis=1), kind='stable')]


def retint(crop: torch.Tensor, mask: torch.Tensor, amount: float,
           pixel_mean: torch.Tensor, pixel_std: torch.Tensor) -> torch.Tensor:
    """Multiply the pixels of a normalised ``crop`` (3, h, w) by random
    per-channel gains in [1 - amount, 1 + amount]; ``mask`` (h, w) keeps the
    background at 0. ``pixel_mean`` / ``pixel_std`` (3, 1, 1) undo and redo
    the input normalisation."""
    gains = 1 + amount * (2 * torch.rand(3, 1, 1, device=crop.device) - 1)
    pixels = crop * pixel_std + pixel_mean
    return (pixels * gains - pixel_mean) / pixel_std * mask


def exemplar_inputs(inputs: torch.Tensor, boxes: List[torch.Tensor],
                    masks: Optional[List[torch.Tensor]],
                    scales: torch.Tensor, pad_divisor: int = 32,
                    tint: float = 0.0, pixel_stats: Optional[Tuple] = None
                    ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Masked crops of the boxes at their own size and at each scale.

    inputs: (B, 3, H, W) normalised images (background 0 = the mean colour).
    boxes: per image (n_i, 4) xyxy boxes in input pixels.
    masks: per image (n_i, h, w) bool instance masks (h <= H, w <= W), or
        None to keep the whole box.
    scales: (K, 2) [w, h] target sizes.
    tint: with ``pixel_stats`` = (mean, std) of the input normalisation,
        re-tint each rescaled crop (``retint``); 0 keeps the colours.
    Returns ``canvases`` (G * (K + 1), 3, Hc, Wc), each crop at the top left
    of a zero canvas, ordered box by box with its original size first, and
    ``crop_boxes`` (G * (K + 1), 4), the crops' xyxy boxes in the canvas.
    """
    if tint and pixel_stats is None:
        raise ValueError('exemplar re-tinting needs the pixel mean and std')
    crops = []
    for index, image_boxes in enumerate(boxes):
        for j, box in enumerate(image_boxes):
            x1, y1 = (int(math.floor(v)) for v in box[:2].tolist())
            x2, y2 = (max(int(math.ceil(v)), start + 1) for v, start in
                      zip(box[2:].tolist(), (x1, y1)))
            crop = inputs[index, :, y1:y2, x1:x2]
            mask = (masks[index][j, y1:y2, x1:x2].to(crop) if masks is not None
                    else torch.ones_like(crop[0]))
            crop = crop * mask
            crops.append(crop)
            for w, h in scales.round().clamp(min=1).tolist():
                size = (int(h), int(w))
                scaled = F.interpolate(crop[None], size=size, mode='bilinear',
                                       align_corners=False)[0]
                if tint:
                    scaled_mask = F.interpolate(mask[None, None], size=size,
                                                mode='bilinear',
                                                align_corners=False)[0, 0]
                    scaled = retint(scaled, scaled_mask, tint, *pixel_stats)
                crops.append(scaled)
    if not crops:
        return inputs.new_zeros(0, 3, pad_divisor, pad_divisor), \
            inputs.new_zeros(0, 4)
    size = [int(math.ceil(max(c.shape[dim] for c in crops) / pad_divisor)
                * pad_divisor) for dim in (1, 2)]
    canvases = inputs.new_zeros(len(crops), 3, *size)
    for canvas, crop in zip(canvases, crops):
        canvas[:, :crop.shape[1], :crop.shape[2]] = crop
    crop_boxes = inputs.new_tensor([[0, 0, c.shape[2], c.shape[1]]
                                    for c in crops])
    return canvases, crop_boxes


# ------------------------------------------------------ scale-invariant loss
TRIPLET_NEGATIVES = ('image', 'batch')


def check_triplet_negatives(negatives: str) -> None:
    if negatives not in TRIPLET_NEGATIVES:
        raise ValueError(f'triplet negatives must be one of {TRIPLET_NEGATIVES}'
                         f', got {negatives!r}')


def scale_invariant_loss(instance: torch.Tensor, exemplars: torch.Tensor,
                         image: torch.Tensor, margin: float = 0.3,
                         gamma: float = 0.05,
                         negatives: str = 'image') -> torch.Tensor:
    """L_scale = hard-mining triplet + gamma * d(instance, original exemplar).

    instance: (G, D) L2-normalised instance features (the anchors).
    exemplars: (G, K + 1, D) their exemplars, original scale first.
    image: (G,) the image of each instance.
    The positive is the farthest exemplar of the anchor's own person, the
    negative the closest exemplar of another person in its image (the
    paper), or in the whole batch with ``negatives='batch'``; anchors
    without another person have no triplet term.
    """
    check_triplet_negatives(negatives)
    num = instance.shape[0]
    dist = torch.cdist(instance, exemplars.reshape(-1, exemplars.shape[-1]))
    dist = dist.view(num, num, -1)  # (anchor, person, scale)
    positive = dist[torch.arange(num), torch.arange(num)].max(dim=1).values
    others = ~torch.eye(num, dtype=torch.bool, device=image.device)
    if negatives == 'image':
        others &= image[:, None] == image[None]
    closest = dist.min(dim=2).values.masked_fill(~others, float('inf'))
    negative = closest.min(dim=1).values
    has_negative = others.any(dim=1)
    triplet = F.relu(positive - negative + margin)[has_negative]
    triplet = triplet.mean() if triplet.numel() else dist.sum() * 0
    original = dist[torch.arange(num), torch.arange(num), 0]
    return triplet + gamma * original.mean()


# ------------------------------------------------ dynamic multi-label learning
def label_threshold(epoch: float, base: float = 0.6, amplitude: float = 0.1,
                    decay: float = 0.05) -> float:
    """t = 0.6 + 0.1 exp(-0.05 epoch): strict early, looser as features improve."""
    return base + amplitude * math.exp(-decay * epoch)


def scene_prior_labels(similarity: torch.Tensor, own_scenes: torch.Tensor,
                       scenes: torch.Tensor, threshold: float,
                       valid: Optional[torch.Tensor] = None,
                       scene_prior: bool = True) -> torch.Tensor:
    """Multi-labels Y = [S >= t] of G instances over the N memory entries,
    with the scene prior.

    similarity: (G, N) rows of S = M M^T for the G instances.
    own_scenes: (G,) the scene of each instance.
    scenes: (N,) scene of every memory entry.
    valid: (N,) bool entries that were written (None: all).
    With ``scene_prior``, the paper walks the candidates from the most
    similar down, accepts one and drops the other persons of its scene; no
    person of the instance's own scene is accepted (the caller adds the
    instance's own entry). The walk keeps exactly the most similar candidate
    of every other scene, which is what is computed here (ties go to the
    lower index). Returns (G, N) bool.
    """
    num_rows, num_entries = similarity.shape
    candidates = similarity >= threshold
    if valid is not None:
        candidates &= valid[None]
    if not scene_prior:
        return candidates
    candidates &= scenes[None] != own_scenes[:, None]
    # The most similar candidate of each scene.
    _, scene_index = torch.unique(scenes, return_inverse=True)
    scene_index = scene_index[None].expand(num_rows, -1)
    score = similarity.masked_fill(~candidates, float('-inf'))
    best = score.new_full((num_rows, num_entries), float('-inf')).scatter_reduce(
        1, scene_index, score, reduce='amax')
    is_best = candidates & (score == best.gather(1, scene_index))
    index = torch.arange(num_entries, device=similarity.device).expand(
        num_rows, -1)
    first = torch.full_like(index, num_entries).scatter_reduce(
        1, scene_index, index.masked_fill(~is_best, num_entries), reduce='amin')
    return is_best & (index == first.gather(1, scene_index))


def keep_most_similar(labels: torch.Tensor, similarity: torch.Tensor,
                      k: int) -> torch.Tensor:
    """The ``k`` most similar of each row's labels (G, N) bool (ties go to
    the lower index); rows with fewer keep all of theirs. A cap on the
    positives as in the multi-label (MMCL) line of work, which ranks the
    candidates and keeps the top k."""
    if k <= 0:
        raise ValueError(f'keep_most_similar: k must be positive, got {k}')
    k = min(k, labels.shape[1])
    score = similarity.masked_fill(~labels, float('-inf'))
    top = score.topk(k, dim=1)
    kept = torch.zeros_like(labels)
    kept.scatter_(1, top.indices, torch.isfinite(top.values))
    return kept


def multi_label_loss(logits: torch.Tensor, labels: torch.Tensor,
                     valid: torch.Tensor, balance: float = 5.0,
                     hard_negative_ratio: float = 0.01) -> torch.Tensor:
    """Memory-based multi-label classification loss.

    logits: (R, N) cosine similarities of features with the memory.
    labels: (R, N) bool multi-labels; valid: (N,) entries that exist.
    Per row: balance * mean over positives of (1 - s)^2 + mean over the
    hardest ``hard_negative_ratio`` share of the negatives of (1 + s)^2; the
    balance factor (5) offsets the few positives against many negatives.
    """
    if logits.shape[0] == 0:
        return logits.sum() * 0
    positive = labels & valid[None]
    negative = ~labels & valid[None]
    pos_term = ((1 - logits) ** 2 * positive).sum(1) / positive.sum(1).clamp(min=1)
    num_hard = max(1, int(round(hard_negative_ratio * int(valid.sum()))))
    num_hard = min(num_hard, int(negative.sum(1).max()))
    if num_hard == 0:
        return balance * pos_term.mean()
    hard = logits.masked_fill(~negative, float('-inf')).topk(num_hard, dim=1)
    hard_ok = torch.isfinite(hard.values)
    neg_term = ((1 + hard.values.masked_fill(~hard_ok, -1)) ** 2).sum(1) / \
        hard_ok.sum(1).clamp(min=1)
    return (balance * pos_term + neg_term).mean()


@MODELS.register_module()
class SSLLoss(nn.Module):
    """The SSL re-ID losses on a ``ReIDBatch`` (see the module docstring).

    Args:
        embed_dim: embedding width D.
        momentum: memory momentum (0.8).
        multi_label: dynamic multi-labels from S = M M^T; without them every
            instance is only its own label (the weak baseline).
        scene_prior: apply the scene prior to the multi-labels.
        threshold: (base, amplitude, decay) of ``label_threshold``.
        balance: the multi-label loss's balance factor (5).
        hard_negative_ratio: share of the memory used as hard negatives.
        exemplar_branch: encode multi-scale exemplars and keep the exemplar
            memory (M is then the mean of both memories).
        scale_invariant: add L_scale (needs the exemplar branch).
        num_scales: K scales of the exemplar branch (3).
        scales: fixed (K, 2) [w, h] exemplar sizes; None: fitted by k-means
            on the training boxes by ``SSLScheduleHook``.
        mask_background: mask crops by the instance masks (the data must
            load them); False keeps the whole box (PRW, CUHK-SYSU).
        exemplar_tint: re-tint the rescaled exemplars by random per-channel
            gains in [1 - x, 1 + x] (not in the paper; 0 keeps the colours).
        margin, gamma: of ``scale_invariant_loss`` (0.3, 0.05).
        triplet_negatives: where the triplet's negative comes from: 'image'
            (the paper: another person of the anchor's image) or 'batch'
            (any other person of this rank's batch; not in the paper).
        dml_weight, scale_weight: loss weights.
        dml_warmup_epochs: before this (fractional) epoch every instance is
            only its own label, as in the weak baseline; the multi-labels
            start after it (not in the paper; 0 = from the start).
        max_positives: keep only this many of an instance's multi-labels,
            the most similar (``keep_most_similar``; not in the paper, which
            keeps every entry over the threshold; None).
    """

    def __init__(self, embed_dim: int, momentum: float = 0.8,
                 multi_label: bool = True, scene_prior: bool = True,
                 threshold: Sequence[float] = (0.6, 0.1, 0.05),
                 balance: float = 5.0, hard_negative_ratio: float = 0.01,
                 exemplar_branch: bool = True, scale_invariant: bool = True,
                 num_scales: int = 3, scales: Optional[Sequence] = None,
                 mask_background: bool = True, exemplar_tint: float = 0.0,
                 margin: float = 0.3,
                 gamma: float = 0.05, triplet_negatives: str = 'image',
                 dml_weight: float = 1.0,
                 scale_weight: float = 1.0, dml_warmup_epochs: float = 0.0,
                 max_positives: Optional[int] = None):
        super().__init__()
        if scale_invariant and not exemplar_branch:
            raise ValueError('SSLLoss: scale_invariant=True needs '
                             'exemplar_branch=True (it compares exemplars)')
        if len(threshold) != 3:
            raise ValueError('SSLLoss: threshold must be (base, amplitude, '
                             f'decay), got {threshold}')
        self.multi_label, self.scene_prior = multi_label, scene_prior
        self.threshold = tuple(threshold)
        self.balance, self.hard_negative_ratio = balance, hard_negative_ratio
        self.exemplar_branch, self.scale_invariant = exemplar_branch, scale_invariant
        self.num_scales, self.mask_background = num_scales, mask_background
        self.exemplar_tint = exemplar_tint
        check_triplet_negatives(triplet_negatives)
        self.margin, self.gamma = margin, gamma
        self.triplet_negatives = triplet_negatives
        self.dml_weight, self.scale_weight = dml_weight, scale_weight
        self.dml_warmup_epochs = dml_warmup_epochs
        if max_positives is not None and max_positives < 1:
            raise ValueError('SSLLoss: max_positives must be None or >= 1, got '
                             f'{max_positives}')
        self.max_positives = max_positives
        self.main_memory = FeatureMemory(embed_dim, momentum)
        self.exemplar_memory = FeatureMemory(embed_dim, momentum)
        self.register_buffer('scales', torch.zeros(0, 2))
        if scales is not None:
            self.set_scales(torch.as_tensor(scales, dtype=torch.float32))
        self.epoch = 0.0

    # -- exemplar branch
    @property
    def wants_exemplars(self) -> bool:
        return self.exemplar_branch

    def set_scales(self, scales: torch.Tensor) -> None:
        if scales.shape != (self.num_scales, 2):
            raise ValueError(f'SSLLoss: scales must be ({self.num_scales}, 2) '
                             f'[w, h], got shape {tuple(scales.shape)}')
        self.scales = scales.to(self.scales)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Scales fitted in training are (K, 2); a fresh loss holds (0, 2).
        stored = state_dict.get(prefix + 'scales')
        if stored is not None and stored.shape != self.scales.shape:
            self.set_scales(stored)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def exemplar_inputs(self, inputs: torch.Tensor, boxes: List[torch.Tensor],
                        masks: Optional[List[torch.Tensor]],
                        pixel_stats: Optional[Tuple] = None):
        """Canvases and crop boxes of the multi-scale exemplars (see
        ``exemplar_inputs``)."""
        if self.scales.shape[0] != self.num_scales:
            raise RuntimeError('SSLLoss: no exemplar scales; give `scales` in '
                               'the config or train with SSLScheduleHook')
        if self.mask_background and masks is None:
            raise ValueError('SSLLoss(mask_background=True) needs instance '
                             'masks: load them (LoadDetAnnotations(with_mask='
                             'True)) or set mask_background=False')
        return exemplar_inputs(inputs, boxes,
                               masks if self.mask_background else None,
                               self.scales, tint=self.exemplar_tint,
                               pixel_stats=pixel_stats)

    # -- losses
    def forward(self, batch: ReIDBatch) -> Dict[str, torch.Tensor]:
        losses = {}
        ids = batch.gt_instance_ids
        # A scene is named by the smallest instance id in it: ids are unique
        # over the training set, so the names are too, on every rank.
        num_images = int(batch.gt_image.max()) + 1 if ids.numel() else 0
        scenes = ids.new_zeros(num_images).scatter_reduce(
            0, batch.gt_image, ids, reduce='amin',
            include_self=False)[batch.gt_image]
        exemplar_mean = None
        if self.exemplar_branch:
            if batch.exemplar_embeds is None:
                raise ValueError('SSLLoss(exemplar_branch=True) got no '
                                 'exemplar embeddings')
            exemplar_mean = F.normalize(batch.exemplar_embeds.mean(1), dim=1)
            if self.scale_invariant and ids.numel():
                losses['loss_scale'] = self.scale_weight * scale_invariant_loss(
                    batch.gt_embeds, batch.exemplar_embeds, batch.gt_image,
                    self.margin, self.gamma, self.triplet_negatives)
        losses['loss_dml'] = self.dml_weight * self.dml_loss(
            batch, scenes, exemplar_mean)
        return losses

    def memory(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """M (N, D), the (mean of the) memories, and which rows exist (N,)."""
        # A copy: the update after the loss must not change what the
        # backward pass reads.
        memory = self.main_memory.features.clone()
        if self.exemplar_branch:
            memory = F.normalize(memory + self.exemplar_memory.features, dim=1)
        return memory, self.main_memory.filled.clone()

    def dml_loss(self, batch: ReIDBatch, scenes: torch.Tensor,
                 exemplar_mean: Optional[torch.Tensor]) -> torch.Tensor:
        """L_DML against the memories as they were before this batch, then
        the momentum update of both memories."""
        ids = batch.gt_instance_ids
        memory, valid = self.memory()
        loss = batch.roi_embeds.sum() * 0
        if ids.numel() and len(memory):
            # An instance seen before is its own label; its row of S is its
            # memory entry (else, on its first visit, its current feature).
            seen = (ids < len(memory)) & valid[ids.clamp(max=len(memory) - 1)]
            labels = torch.zeros(len(ids), len(memory), dtype=torch.bool,
                                 device=memory.device)
            if self.multi_label and self.epoch >= self.dml_warmup_epochs:
                rows = torch.where(seen[:, None],
                                   memory[ids.clamp(max=len(memory) - 1)],
                                   batch.gt_embeds.detach())
                similarity = rows @ memory.T  # S = M M^T
                labels = scene_prior_labels(
                    similarity, scenes, self.main_memory.tags,
                    label_threshold(self.epoch, *self.threshold), valid,
                    self.scene_prior)
                if self.max_positives is not None:
                    labels = keep_most_similar(labels, similarity,
                                               self.max_positives)
            labels[seen.nonzero()[:, 0], ids[seen]] = True
            logits = batch.roi_embeds @ memory.T
            loss = multi_label_loss(logits, labels[batch.roi_gt], valid,
                                    self.balance, self.hard_negative_ratio)
        self.main_memory.update(ids, batch.gt_embeds, scenes)
        if exemplar_mean is not None:
            self.exemplar_memory.update(ids, exemplar_mean, scenes)
        return loss


@HOOKS.register_module()
class SSLScheduleHook(Hook):
    """Feeds ``SSLLoss`` what it needs from the training loop.

    Before training, unless the config fixed them, the exemplar scales are
    fitted by k-means on the training boxes (every rank reads the same data
    list, so every rank gets the same scales). Before every iteration, the
    (fractional) epoch ``iter * batch / len(dataset)`` is set for the label
    threshold's schedule.
    """

    def before_train(self, runner) -> None:
        loss = self._loss(runner)
        if loss is None or not loss.exemplar_branch or len(loss.scales):
            return
        dataset = runner.train_dataloader.dataset
        sizes = [(box[2] - box[0], box[3] - box[1])
                 for index in range(len(dataset))
                 for inst in dataset.get_data_info(index)['instances']
                 if not inst['ignore_flag'] for box in [inst['bbox']]]
        loss.set_scales(torch.as_tensor(
            kmeans_box_scales(np.array(sizes), loss.num_scales),
            dtype=torch.float32))
        runner.logger.info('SSL exemplar scales [w, h]: '
                           f'{loss.scales.round().tolist()}')

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        loss = self._loss(runner)
        if loss is not None:
            loss.epoch = runner.iter / max(len(runner.train_dataloader), 1)

    @staticmethod
    def _loss(runner) -> Optional[SSLLoss]:
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        loss = getattr(model, 'reid_loss', None)
        return loss if isinstance(loss, SSLLoss) else None
