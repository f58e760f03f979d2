"""AGMM and AGMM++: weakly-supervised segmentation with adaptive Gaussian mixtures.

- AGMM, "Sparsely Annotated Semantic Segmentation with Adaptive Gaussian
  Mixtures" (CVPR 2023): points and scribbles.
- AGMM++, "Modeling the Label Distributions for Weakly-Supervised Semantic
  Segmentation" (TPAMI 2025): adds an online EM over running class
  statistics, and image tags, blocks and boxes.

The segmentor's fused decoder feature ``feat`` (B, C, h, w) is modelled by a
Gaussian mixture with one component per class. Labelled pixels fix the
components; the mixture's responses then act as soft targets for every pixel,
labelled or not. With labels y (B, H, W), network probabilities
p = softmax(logits) and responses r, the terms (all weights 1 in the paper)
are:

1. ``loss_ce``: partial cross-entropy on the labelled pixels.
2. class centres mu_k: mean feature of the labelled pixels of class k in each
   image (one segment reduction, ``masked_class_mean``).
3. ``loss_sep``: mean over pairs of classes labelled in the crop of
   exp(-d(mu_i, mu_j)^2), d = channel-mean L1 distance.
4. responses r_k(x) = exp(-d(f(x), mu_k)^2 / (2 sigma_k^2)) (Eq. 7), from the
   fused ``gmm_log_likelihood``, masked to the candidate classes and to
   non-padding pixels, upsampled to (H, W).
5. ``loss_sbce``: symmetric BCE between p and r over candidate classes and
   valid pixels; ``loss_label``: BCE between r and the one-hot labels on the
   labelled pixels.
6. ``loss_absent``: -sum_k log(1 - p_k) over the classes absent from the image
   tags, averaged over valid pixels.

Terms 1, 5 and 6 run as one pass over the pixels (``agmm_pixel_losses``: it
reads the logits and the upsampled responses and writes only their
gradients), terms 2 and 4 as fused kernels too.

``reference_mode=True`` is the CVPR reference code: sigma = 1, the
channel-mean L1 distance, no mixture weights, r_k = exp(-d^2) per class, only
the terms above. Otherwise (AGMM++) the mixture is a diagonal Gaussian per
class with weights pi_k, r is its (tempered) posterior over the candidate
classes, and:

7. an online EM (``OnlineGaussianMixture``): each iteration the E-step takes
   the posterior under the current mixture, and the M-step folds the labelled
   and confidently pseudo-labelled pixels into EMA running means, variances
   and weights, with the batch statistics summed over DDP ranks first.
8. ``loss_max``: the maximisation loss, cross-entropy of the running
   mixture's posterior against each pixel's assigned component: it pulls a
   feature toward its component's centre and away from the others.
9. ``loss_pseudo``: cross-entropy of the network on the unlabelled pixels
   where the mixture is confident (posterior >= ``threshold``).
10. ``loss_cls``: CAM-style multi-label loss on the image scores (the
    average of each class's CAM over its ``cam_pool_ratio`` highest valid
    pixels; 1, the default, is global average pooling): what image tags and
    boxes supervise directly. The CAMs are the logits, or with ``cam_head``
    a 1x1 classifier of their own on ``feat``.

Labels: class ids 0..K-1, ``UNLABELLED`` (254) for pixels without a label and
``IGNORE_INDEX`` (255) for crop padding. They stay apart throughout: padding
is never a candidate for any class and never gets a pseudo-label.

Which classes can a pixel have? The image tags (``gt_tags``, taken from the
weak label before cropping, see ``LoadWeakSegAnnotations``) say which classes
are in the image and so which are surely absent from the crop (term 6). The
classes known to be in the crop are those with labelled pixels in it, plus
those of the boxes that survive the crop; where the crop carries no label at
all (image tags only), the image tags stand in. Classes labelled in the
crop get per-image centres (term 2) and the separation loss; the known crop
classes are the positives of term 10. Candidates for the responses are the
classes labelled in the crop in reference mode (as the CVPR code); in AGMM++
they are the image tags (a tagged class may be in the crop unlabelled, and
the running mixture models it without a per-image centre), narrowed by
boxes: outside every box only background, inside a box background and the
box classes. Boxes and tags never label a pixel of an object class.

The fill prior (``fill_assignment``) keeps the posterior from settling on
background alone, which it otherwise does: background is most of every
image, and a network trained on it with nothing else labelled calls every
pixel background. A tight box is mostly object, so in each box the
``fill_ratio['box']`` of its cells most probable for the box class take
that class, however confident the posterior is of background there: the
prior says how many cells are object, the mixture which ones. It runs on the
feature cells for the M-step and on the pixels (the box to the pixel, the
posterior upsampled) for the network's pseudo-labels. For tags, the fill
prior takes as seeds, in each crop, the pixels where each tagged class's
class activation map (trained as a classifier by term 10) is highest, and
those where every tagged object's is lowest as background: the CAMs seed
the labels and the mixture refines them. ``prior_weight`` > 0 also
multiplies the posterior by the network's probabilities.
"""
import math
from typing import Dict, List, NamedTuple, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import all_reduce

from ...ops import agmm_pixel_losses, gmm_log_likelihood, masked_class_mean
from ...registry import MODELS
from ...structures import IGNORE_INDEX, UNLABELLED, SegDataSample
from .cross_entropy import labelled_mask, stack_boxes, stack_labels

EPS = 1e-6

#: Every term ``AGMMLoss`` returns, in order; AGMM++ adds the last four.
CVPR_TERMS = ('loss_ce', 'loss_sep', 'loss_sbce', 'loss_label', 'loss_absent')
AGMM_PLUS_TERMS = ('loss_max', 'loss_pseudo', 'loss_cls')


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` where ``mask`` (broadcastable) holds; 0, still
    attached to the graph (DDP needs every parameter's gradient), when it
    holds nowhere."""
    mask = mask.to(values.dtype).expand_as(values)
    return (values * mask).sum() / mask.sum().clamp(min=1)


def feature_labels(labels: torch.Tensor, size, num_classes: int) -> torch.Tensor:
    """Sparse labels (B, H, W) -> (B, h, w) at the feature resolution.

    Each feature cell takes the most frequent class among its labelled
    pixels, so a one-pixel click survives the stride (nearest-neighbour
    sampling would drop most clicks). A cell with no
    labelled pixel is ``UNLABELLED`` when any of its pixels is, and
    ``IGNORE_INDEX`` when all of them are padding.
    """
    K = num_classes
    # Each pixel's code: its class, K when unlabelled, K + 1 on padding, -1 otherwise.
    codes = torch.where((labels >= 0) & (labels < K), labels, torch.where(
        labels == UNLABELLED, K, torch.where(labels == IGNORE_INDEX, K + 1, -1)))
    if (codes < 0).any():
        bad = torch.unique(labels[codes < 0]).tolist()
        raise ValueError(f'labels hold values {bad[:10]} that are neither class ids in '
                         f'[0, {K}) nor {UNLABELLED} (unlabelled) or {IGNORE_INDEX} (padding)')
    B, H, W = labels.shape
    one_hot = torch.zeros(B, K + 2, H, W, device=labels.device).scatter_(1, codes[:, None], 1.0)
    area = F.adaptive_avg_pool2d(one_hot, tuple(size))  # (B, K + 2, h, w) fractions
    class_area, best = area[:, :K].max(1)
    fallback = torch.where(area[:, K] > 0, UNLABELLED, IGNORE_INDEX)
    return torch.where(class_area > 0, best, fallback)


class Regions(NamedTuple):
    """Regions of a grid (feature cells or pixels) that each hold an object
    of a known class: the cells a box overlaps, or a whole crop for an image
    tag.

    ``image`` (N,) and ``label`` (N,) int64: the image and class of each
    region; ``cells`` (N, h, w) bool; ``fill`` (N,) the least fraction of the
    region's cells the class takes (see ``fill_assignment``).
    """
    image: torch.Tensor
    label: torch.Tensor
    cells: torch.Tensor
    fill: torch.Tensor


def box_regions(data_samples: List[SegDataSample], num_classes: int, feat_size, input_size,
                fill: float, device) -> Regions:
    """The feature cells each box overlaps, one region per box (after
    cropping). Cell j spans input pixels [j, j + 1) * W / w."""
    (h, w), (H, W) = feat_size, input_size
    images, classes, boxes = stack_boxes(data_samples, num_classes, device)
    if not len(images):
        return Regions(images, classes, torch.zeros(0, h, w, dtype=torch.bool, device=device),
                       torch.zeros(0, device=device))
    x_edges = torch.arange(w + 1, device=device) * (W / w)
    y_edges = torch.arange(h + 1, device=device) * (H / h)
    in_x = (boxes[:, None, 0] < x_edges[None, 1:]) & (boxes[:, None, 2] > x_edges[None, :-1])
    in_y = (boxes[:, None, 1] < y_edges[None, 1:]) & (boxes[:, None, 3] > y_edges[None, :-1])
    return Regions(images, classes, in_y[:, :, None] & in_x[:, None, :],
                   torch.full(classes.shape, float(fill), device=device))


def box_candidates(regions: Regions, num_images: int, num_classes: int,
                   background_id: Optional[int]):
    """Candidate classes of each feature cell implied by the boxes.

    Returns ``(candidates, boxed)``: candidates (B, K, h, w) bool, for an
    image with boxes background plus the classes of every box that overlaps
    the cell, and all True for an image without boxes; boxed (B, K) bool,
    the classes of the boxes in the image.
    """
    h, w = regions.cells.shape[-2:]
    device = regions.cells.device
    boxed = torch.zeros(num_images, num_classes, dtype=torch.bool, device=device)
    if not len(regions.image):
        return torch.ones(num_images, num_classes, h, w, dtype=torch.bool, device=device), boxed
    boxed[regions.image, regions.label] = True
    covered = torch.zeros(num_images, num_classes, h, w, device=device)
    covered.index_put_((regions.image, regions.label), regions.cells.float(), accumulate=True)
    candidates = covered > 0
    if background_id is not None:
        candidates[:, background_id] = True
    has_boxes = torch.zeros(num_images, dtype=torch.bool, device=device)
    has_boxes[regions.image] = True
    candidates |= ~has_boxes[:, None, None, None]
    return candidates, boxed


def fill_assignment(score: torch.Tensor, regions: Regions) -> torch.Tensor:
    """The fill prior: in each region, the ceil(fill * n) of its n cells
    that score highest for the region's class under ``score`` (B, K, h, w)
    take that class (ties all do), however confident the posterior is of
    another class there. For a box the score is the mixture's posterior: a
    tight box is mostly object, and the mixture decides *which* of its cells
    are. Returns (B, h, w): the class of each chosen cell (the higher-scoring
    one where regions overlap), ``UNLABELLED`` elsewhere.
    """
    B, K, h, w = score.shape
    cells = regions.cells.flatten(1)
    score = score[regions.image, regions.label].flatten(1).masked_fill(~cells, -math.inf)
    count = cells.sum(1)
    keep = (regions.fill * count).ceil().long().clamp(min=1, max=h * w)
    kth = score.sort(1, descending=True).values.gather(1, (keep - 1)[:, None])
    chosen = cells & (score >= kth) & (regions.fill > 0)[:, None]
    best = score.new_full((B * K, h * w), -math.inf)
    row = (regions.image * K + regions.label)[:, None].expand_as(score)
    best.scatter_reduce_(0, row, score.masked_fill(~chosen, -math.inf), 'amax')
    value, label = best.view(B, K, h, w).max(1)
    return torch.where(value > -math.inf, label, torch.full_like(label, UNLABELLED))


def separation_loss(means: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """Term 3: mean of exp(-d(mu_i, mu_j)^2) over pairs i < j of classes
    present in the same image, d the channel-mean L1 distance.

    means: (B, K, C) centres; present: (B, K) bool.
    """
    K, C = means.shape[1:]
    neg_sq_dist = -(torch.cdist(means, means, p=1) / C).square()  # (B, K, K)
    upper = torch.ones(K, K, dtype=torch.bool, device=means.device).triu(1)
    pairs = present[:, :, None] & present[:, None, :] & upper
    return masked_mean(neg_sq_dist.exp(), pairs)


class PseudoLabelCandidates(NamedTuple):
    """What decides the pseudo-labels of a grid (feature cells or pixels),
    each (B, h, w): the posterior's ``confidence`` and most probable class
    ``classes``, the fill prior's class ``filled`` (``UNLABELLED`` for none)
    and whether each cell is ``unlabelled`` (only those get one)."""
    confidence: torch.Tensor
    classes: torch.Tensor
    filled: torch.Tensor
    unlabelled: torch.Tensor


def pseudo_labels(candidates: PseudoLabelCandidates, threshold: float) -> torch.Tensor:
    """Pseudo-labels (B, h, w): the fill prior's class where it picks the
    cell, else the posterior's where its confidence is at least
    ``threshold``; ``UNLABELLED`` elsewhere and on labelled cells."""
    confident = torch.where(candidates.confidence >= threshold, candidates.classes,
                            torch.full_like(candidates.classes, UNLABELLED))
    pseudo = torch.where(candidates.filled != UNLABELLED, candidates.filled, confident)
    return pseudo.masked_fill(~candidates.unlabelled, UNLABELLED)


class ClassSlots(NamedTuple):
    """The classes each image can have, as S slots per image (S = the most
    of any image in the batch, a handful of the K): the full-resolution
    terms work on (B, S, H, W) gathers instead of (B, K, H, W) tensors.

    ``index`` (B, S) holds each slot's class id. An image with fewer classes
    fills its last slots with classes it cannot have, which every mask that
    comes from the same (B, K) selection then leaves out.
    """
    index: torch.Tensor

    @classmethod
    def of(cls, classes: torch.Tensor) -> 'ClassSlots':
        """classes: (B, K) bool."""
        num_slots = max(int(classes.sum(1).max()), 1)
        order = torch.argsort((~classes).to(torch.uint8), dim=1, stable=True)
        return cls(order[:, :num_slots])

    def gather(self, tensor: torch.Tensor) -> torch.Tensor:
        """(B, K, ...) -> (B, S, ...)."""
        index = self.index.view(*self.index.shape, *(1, ) * (tensor.dim() - 2))
        return tensor.gather(1, index.expand(-1, -1, *tensor.shape[2:]))

    def slot_of(self, image: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """The slot of class ``label`` (N,) in image ``image`` (N,)."""
        return (self.index[image] == label[:, None]).to(torch.uint8).argmax(1)

    def class_of(self, slot_map: torch.Tensor) -> torch.Tensor:
        """(B, h, w) slots, ``UNLABELLED`` for none -> (B, h, w) class ids."""
        none = slot_map == UNLABELLED
        flat = slot_map.masked_fill(none, 0).flatten(1)
        return self.index.gather(1, flat).view_as(slot_map).masked_fill(none, UNLABELLED)


def image_class_loss(seg_logits: torch.Tensor, positive: torch.Tensor,
                     negative: torch.Tensor, valid: torch.Tensor,
                     pool_ratio: float = 1.0) -> torch.Tensor:
    """Term 10: multi-label BCE on image scores s_k, the mean of the logits z_k
    over the ``pool_ratio`` of each image's valid pixels where z_k is highest
    (the CAM classifier: the 1x1 classifier itself, then global average
    pooling at ``pool_ratio`` = 1, top-k pooling below it).

    Global average pooling raises a tagged class's logit on every pixel alike,
    background included; top-k pooling only where the class is already
    strongest, so its CAM stays on the object.

    seg_logits: (B, K, H, W); positive, negative: (B, K) bool (classes in
    neither are not supervised); valid: (B, H, W) bool.
    """
    if not 0 < pool_ratio <= 1:
        raise ValueError(f'pool_ratio must be in (0, 1], got {pool_ratio}')
    if pool_ratio == 1:
        weight = valid[:, None].to(seg_logits.dtype)
        scores = (seg_logits * weight).sum((2, 3)) / weight.sum((2, 3)).clamp(min=1)
    else:
        B, K = seg_logits.shape[:2]
        flat = seg_logits.flatten(2).masked_fill(~valid.flatten(1)[:, None], -math.inf)
        # Each image's k: the ratio of its valid pixels, at least one when it
        # has any (an all-padding image scores 0, as with average pooling).
        k = (valid.flatten(1).sum(1) * pool_ratio).ceil().long()  # (B,)
        top = flat.topk(int(k.max()), dim=2).values  # (B, K, k_max)
        take = torch.arange(top.shape[2], device=top.device)[None] < k[:, None]  # (B, k_max)
        take = take[:, None].expand(B, K, -1)
        scores = top.masked_fill(~take, 0).sum(2) / take.sum(2).clamp(min=1)
    bce = F.binary_cross_entropy_with_logits(scores, positive.to(scores.dtype),
                                             reduction='none')
    return masked_mean(bce, positive | negative)


class OnlineGaussianMixture(nn.Module):
    """Running per-class diagonal Gaussians and mixture weights (AGMM++).

    Buffers (so checkpoints hold them): ``mean`` (K, C), ``var`` (K, C),
    ``weight`` (K,) summing to 1, ``initialised`` (K,) bool (the class has
    been seen), ``num_updates`` () int64.

    Args:
        num_classes: K.
        channels: C, the feature width.
        momentum: EMA momentum m: stat <- m * stat + (1 - m) * batch stat.
        min_var: variance floor (dead ReLU channels have zero variance).
    """

    def __init__(self, num_classes: int, channels: int, momentum: float = 0.99,
                 min_var: float = 1e-2):
        super().__init__()
        if not 0 <= momentum < 1:
            raise ValueError(f'momentum must be in [0, 1), got {momentum}')
        if min_var <= 0:
            raise ValueError(f'min_var must be positive, got {min_var}')
        self.num_classes, self.channels = num_classes, channels
        self.momentum, self.min_var = momentum, min_var
        self.register_buffer('mean', torch.zeros(num_classes, channels))
        self.register_buffer('var', torch.ones(num_classes, channels))
        self.register_buffer('weight', torch.full((num_classes, ), 1.0 / num_classes))
        self.register_buffer('initialised', torch.zeros(num_classes, dtype=torch.bool))
        self.register_buffer('num_updates', torch.zeros((), dtype=torch.long))

    @property
    def log_var(self) -> torch.Tensor:
        """(1, K, C)."""
        return self.var.log()[None]

    @property
    def log_pi(self) -> torch.Tensor:
        """(1, K)."""
        return self.weight.clamp(min=EPS).log()[None]

    @torch.no_grad()
    def update(self, feat: torch.Tensor, assignment: torch.Tensor) -> None:
        """M-step: fold one batch into the running statistics.

        feat: (B, C, h, w); assignment: (B, h, w) component (class) of each
        pixel, ``UNLABELLED`` / ``IGNORE_INDEX`` (or any value outside
        [0, K)) for none. The per-class pixel counts, feature sums and
        squared-feature sums are summed over DDP ranks before the EMA (a
        no-op without a process group), so every rank holds the same
        statistics, those of the union of the batches. A class seen for the
        first time takes the batch estimate as is.
        """
        feat = feat.detach().float()
        # Means of f and f^2 in one reduction.
        moments, counts = masked_class_mean(torch.cat([feat, feat.square()], 1), assignment,
                                            self.num_classes, check_labels=False)
        counts = counts.to(feat.dtype)[..., None]  # (B, K, 1)
        stats = torch.cat([counts, moments * counts], 2).sum(0)
        all_reduce(stats, op='sum')
        stats = stats.to(self.mean)
        count, total, sq_total = stats[:, 0], stats[:, 1:1 + self.channels], \
            stats[:, 1 + self.channels:]
        seen = count > 0
        batch_mean = total / count.clamp(min=1)[:, None]
        batch_var = (sq_total / count.clamp(min=1)[:, None] - batch_mean.square()).clamp(
            min=self.min_var)
        keep = torch.where(self.initialised, self.momentum, 0.0)[:, None]
        self.mean.copy_(torch.where(seen[:, None], keep * self.mean + (1 - keep) * batch_mean,
                                    self.mean))
        self.var.copy_(torch.where(seen[:, None], keep * self.var + (1 - keep) * batch_var,
                                   self.var))
        # No pixel assigned at all leaves the weights as they are (no host sync).
        total_count = count.sum()
        weight = self.momentum * self.weight + (1 - self.momentum) * count / total_count.clamp(
            min=1)
        self.weight.copy_(torch.where(total_count > 0, weight, self.weight))
        self.initialised |= seen
        self.num_updates += 1

    def log_likelihood(self, feat: torch.Tensor, means: Optional[torch.Tensor] = None,
                       valid_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """log pi_k + log N(f(x); mu_k, diag(var_k)) up to a constant, (B, K, h, w),
        with the running centres or ``means`` (B, K, C) in their place."""
        means = self.mean[None] if means is None else means
        return gmm_log_likelihood(feat, means, self.log_var, self.log_pi, dist='sq_l2',
                                  valid_mask=valid_mask)


@MODELS.register_module()
class AGMMLoss(nn.Module):
    """AGMM (``reference_mode=True``) or AGMM++ loss; see the module docstring.

    Called by ``EncoderDecoder`` as ``loss(seg_logits=(B, K, H, W),
    feat=(B, C, h, w), data_samples=[SegDataSample])``; each sample carries
    ``gt_weak_seg`` (or ``gt_sem_seg``), and optionally ``gt_tags`` (K,) and
    ``gt_instances`` (boxes). Returns the weighted terms ``CVPR_TERMS`` (+
    ``AGMM_PLUS_TERMS``).

    Args:
        num_classes: K.
        feat_channels: C, the decode head's feature width.
        reference_mode: the CVPR code's choices (sigma = 1, L1-mean distance,
            no pi, no online EM).
        loss_weights: {term name: weight}; unnamed terms weigh 1.
        momentum, min_var: of the running statistics (AGMM++).
        temperature: the posterior is softmax(log-likelihood / (C *
            temperature)): the log-likelihood per channel, tempered. Diagonal
            Gaussians count the C correlated channels as independent
            evidence, which makes the untempered posterior near 0/1 from the
            start of training, and its mistakes then fight the labels.
        threshold: posterior above which an unlabelled pixel gets a
            pseudo-label (and joins the M-step).
        prior_weight: exponent of the network's probabilities as a prior in
            the posterior (CAM seeds); 0 for a mixture-only posterior.
        warmup_iters: the pseudo-label and maximisation losses ramp up
            linearly over this many iterations.
        warmup_start: the ramp starts after this many iterations without
            those losses (image tags: the classifier of term 10 trains alone
            first, so that its CAMs mean something before they seed labels).
        background_id: the background class (outside every box), or None.
        fill_ratio: the fill prior (``fill_assignment``), {region kind: the
            least fraction of its region a class takes}: ``box``, a box class
            in the cells of its box; ``tag``, a tagged object class in a crop
            that has no labelled pixel of it and no box; ``background``,
            background in a crop without any labelled pixel. 0 turns a kind
            off. Defaults: box 0.5, tag 0, background 0.
        cam_pool_ratio: the image scores of term 10 average each class's
            CAM over this fraction of the pixels where it is highest
            (``image_class_loss``); 1 is global average pooling.
        cam_head: the CAMs come from a 1x1 classifier of their own on the
            features ``feat``, trained by term 10 alone, rather than from the
            segmentation logits. The logits also learn the pseudo-labels,
            which the CAMs seed: CAMs taken from them then follow the
            network's own mistakes.
    """

    def __init__(self, num_classes: int, feat_channels: int, reference_mode: bool = False,
                 loss_weights: Optional[Dict[str, float]] = None, momentum: float = 0.99,
                 min_var: float = 1e-2, temperature: float = 1.0, threshold: float = 0.9,
                 prior_weight: float = 0.0, warmup_iters: int = 100, warmup_start: int = 0,
                 background_id: Optional[int] = 0,
                 fill_ratio: Optional[Dict[str, float]] = None,
                 cam_pool_ratio: float = 1.0, cam_head: bool = False):
        super().__init__()
        if cam_head and reference_mode:
            raise ValueError('AGMMLoss: cam_head needs AGMM++ (reference_mode=False): the '
                             'CVPR reference has no CAM classifier')
        terms = CVPR_TERMS if reference_mode else CVPR_TERMS + AGMM_PLUS_TERMS
        unknown = set(loss_weights or {}) - set(terms)
        if unknown:
            raise ValueError(f'AGMMLoss(reference_mode={reference_mode}) has no terms '
                             f'{sorted(unknown)}; its terms are {list(terms)}')
        if (temperature <= 0 or not 0 < threshold <= 1 or prior_weight < 0 or warmup_iters < 0
                or warmup_start < 0):
            raise ValueError('AGMMLoss needs temperature > 0, 0 < threshold <= 1, '
                             'prior_weight >= 0, warmup_iters >= 0 and warmup_start >= 0; got '
                             f'{temperature}, {threshold}, {prior_weight}, {warmup_iters}, '
                             f'{warmup_start}')
        self.num_classes, self.feat_channels = num_classes, feat_channels
        self.reference_mode = reference_mode
        self.loss_weights = {name: float((loss_weights or {}).get(name, 1.0)) for name in terms}
        self.threshold = threshold
        # One scale for every Gaussian log-likelihood (see ``temperature``).
        self.log_lik_scale = 1.0 / (feat_channels * temperature)
        self.prior_weight, self.warmup_iters = prior_weight, warmup_iters
        self.warmup_start = warmup_start
        if not 0 < cam_pool_ratio <= 1:
            raise ValueError(f'AGMMLoss cam_pool_ratio must be in (0, 1], got {cam_pool_ratio}')
        self.cam_pool_ratio = cam_pool_ratio
        self.background_id = background_id
        self.fill_ratio = dict(box=0.5, tag=0.0, background=0.0)
        unknown = set(fill_ratio or {}) - set(self.fill_ratio)
        if unknown:
            raise ValueError(f'AGMMLoss fill_ratio has no kinds {sorted(unknown)}; its kinds '
                             f'are {list(self.fill_ratio)}')
        self.fill_ratio.update(fill_ratio or {})
        if not all(0 <= value <= 1 for value in self.fill_ratio.values()):
            raise ValueError(f'AGMMLoss fill_ratio values must be in [0, 1], got '
                             f'{self.fill_ratio}')
        self.mixture = None if reference_mode else OnlineGaussianMixture(
            num_classes, feat_channels, momentum, min_var)
        self.cam_head = nn.Conv2d(feat_channels, num_classes, 1) if cam_head else None
        # For analysis (tools/analysis/agmm_label_quality.py): set
        # keep_candidates to keep the last batch's pixel candidates.
        self.keep_candidates = False
        self.last_candidates: Optional[PseudoLabelCandidates] = None

    def forward(self, seg_logits: torch.Tensor, feat: torch.Tensor,
                data_samples: List[SegDataSample], **kwargs) -> Dict[str, torch.Tensor]:
        self._check_inputs(seg_logits, feat)
        K, device = self.num_classes, seg_logits.device
        feat = feat.float()
        logits = seg_logits.float()
        labels = stack_labels(data_samples).to(device)
        valid = labels != IGNORE_INDEX

        # Term 2: per-image centres from the labelled cells of the crop.
        cell_labels = feature_labels(labels, feat.shape[-2:], K)
        cell_valid = cell_labels != IGNORE_INDEX
        # feature_labels has checked the labels' values.
        means, counts = masked_class_mean(feat, cell_labels, K, check_labels=False)
        in_crop = counts > 0
        boxes = box_regions(data_samples, K, feat.shape[-2:], labels.shape[-2:],
                            self.fill_ratio['box'], device)
        candidates, boxed = box_candidates(boxes, len(data_samples), K, self.background_id)
        image_tags = self._image_tags(data_samples, in_crop)
        crop_tags = in_crop | boxed
        crop_tags = torch.where(crop_tags.any(1, keepdim=True), crop_tags, image_tags)

        loss_sep = (separation_loss(means, in_crop) if self._weighs('loss_sep')
                    else self._skipped(seg_logits))
        if self.reference_mode:
            # Eq. 7 with sigma = 1, d the channel-mean L1 distance: r = exp(-d^2).
            cell_resp = gmm_log_likelihood(feat, means, dist='l1_mean',
                                           valid_mask=cell_valid).exp()
            cell_candidates = in_crop[..., None, None] & cell_valid[:, None]
            cell_mask = cell_candidates
        else:
            cell_candidates = (candidates & (image_tags | crop_tags)[..., None, None]
                               & cell_valid[:, None])
            cell_resp, mixture_ok = self._posterior(feat, means, in_crop, cell_candidates,
                                                    cell_valid, logits)
            # Terms 4-5 need the mixture: only cells where it models every candidate.
            cell_mask = cell_candidates & mixture_ok[:, None]
        slots = ClassSlots.of(cell_candidates.flatten(2).any(2))

        # Terms 1, 5 and 6 in one pass over the pixels (``agmm_pixel_losses``):
        # the responses of the slots' classes, upsampled, against the network.
        size = labels.shape[-2:]
        if self._weighs('loss_sbce') or self._weighs('loss_label'):
            resp = F.interpolate(slots.gather(cell_resp * cell_mask), size=size,
                                 mode='bilinear', align_corners=False)
            resp_mask = _upsample_mask(slots.gather(cell_mask), size)
            slot_class = slots.index
        else:
            resp = logits.new_zeros(len(labels), 0, *size)
            resp_mask = resp.bool()
            slot_class = slots.index[:, :0]
        sums, num = agmm_pixel_losses(logits, labels, ~image_tags, resp, resp_mask, slot_class,
                                      eps=EPS)
        loss_ce, loss_absent, loss_sbce, loss_label = sums / num.clamp(min=1)
        terms = dict(loss_ce=loss_ce, loss_sep=loss_sep, loss_sbce=loss_sbce,
                     loss_label=loss_label, loss_absent=loss_absent)
        if not self.reference_mode:
            # The fill prior, on the feature cells for the M-step and on the
            # pixels (boxes to the pixel, the posterior upsampled) for the
            # network's pseudo-labels.
            posterior = slots.gather(cell_resp.detach())
            pixel_posterior = F.interpolate(posterior, size=size, mode='bilinear',
                                            align_corners=False)
            # The CAMs: the logits, or the CAM head's on the feature cells.
            cams = self.cam_head(feat) if self.cam_head is not None else None
            logits = (logits if cams is None else F.interpolate(
                cams, size=size, mode='bilinear', align_corners=False)).detach()
            cell_fill = self._fill_prior(
                posterior, logits, boxes,
                self._tag_regions(image_tags, in_crop, boxed, cell_valid), image_tags, slots)
            pixel_fill = self._fill_prior(
                pixel_posterior, logits,
                box_regions(data_samples, K, size, size, self.fill_ratio['box'], device),
                self._tag_regions(image_tags, in_crop, boxed, valid), image_tags, slots)
            terms.update(self._agmm_plus_terms(seg_logits, feat, labels, cell_labels,
                                               cell_valid, posterior, pixel_posterior, slots,
                                               cell_fill, pixel_fill, crop_tags, image_tags,
                                               cams))
        return {name: value if self.loss_weights[name] == 1 else self.loss_weights[name] * value
                for name, value in terms.items()}

    def _weighs(self, term: str) -> bool:
        """Whether ``term`` counts; a term of weight 0 is not computed."""
        return self.loss_weights[term] != 0

    @staticmethod
    def _skipped(seg_logits: torch.Tensor) -> torch.Tensor:
        """The value of a term that is not computed."""
        return seg_logits.new_zeros(())

    def _check_inputs(self, seg_logits: torch.Tensor, feat: torch.Tensor) -> None:
        if seg_logits.dim() != 4 or seg_logits.shape[1] != self.num_classes:
            raise ValueError(f'AGMMLoss(num_classes={self.num_classes}) expects seg_logits '
                             f'(B, {self.num_classes}, H, W), got {tuple(seg_logits.shape)}')
        if feat.dim() != 4 or feat.shape[:2] != (seg_logits.shape[0], self.feat_channels):
            raise ValueError(f'AGMMLoss(feat_channels={self.feat_channels}) expects feat '
                             f'(B, {self.feat_channels}, h, w), got {tuple(feat.shape)}; set '
                             'feat_channels to the decode head channels')

    def _image_tags(self, data_samples: List[SegDataSample], in_crop: torch.Tensor):
        """(B, K) bool: ``gt_tags`` of each sample, or the classes labelled in
        the crop for a sample without tags."""
        if not any('gt_tags' in sample for sample in data_samples):
            return in_crop
        rows = []
        for index, sample in enumerate(data_samples):
            if 'gt_tags' not in sample:
                rows.append(in_crop[index])
                continue
            tags = torch.as_tensor(sample.gt_tags, device=in_crop.device)
            if tags.shape != (self.num_classes, ):
                raise ValueError(f'{sample.metainfo.get("img_path", f"sample {index}")}: '
                                 f'gt_tags has shape {tuple(tags.shape)}, expected '
                                 f'({self.num_classes},)')
            rows.append(tags > 0.5)
        return torch.stack(rows)

    def _posterior(self, feat, means, in_crop, cell_mask, cell_valid, logits):
        """E-step: posterior over each cell's candidate classes, (B, K, h, w).

        Components: the crop's own centre for a class labelled in it (items
        vary in colour between images), else the running centre; running
        variances and weights. Returns the posterior (0 off the candidates)
        and mixture_ok (B, h, w): every candidate of the cell is modelled.
        Without that the posterior is the prior alone (uniform when
        ``prior_weight`` is 0).
        """
        mixture = self.mixture
        centres = torch.where(in_crop[..., None], means, mixture.mean[None])
        log_lik = mixture.log_likelihood(feat, centres, cell_valid) * self.log_lik_scale
        modelled = in_crop | mixture.initialised[None]
        mixture_ok = ~(cell_mask & ~modelled[..., None, None]).any(1)
        score = torch.where(mixture_ok[:, None], log_lik, torch.zeros_like(log_lik))
        if self.prior_weight > 0:
            cell_prob = F.adaptive_avg_pool2d(logits.detach().softmax(1), feat.shape[-2:])
            score = score + self.prior_weight * cell_prob.clamp(min=EPS).log()
        # A finite fill: a cell without candidates (padding) must not give NaNs.
        posterior = score.masked_fill(~cell_mask, torch.finfo(score.dtype).min).softmax(1)
        return posterior * cell_mask, mixture_ok

    def _fill_prior(self, posterior, logits, boxes, tags, image_tags, slots):
        """The fill prior's class of each cell of a grid (``UNLABELLED`` for
        none), (B, h, w): in the ``boxes`` ranked by the ``posterior`` (B, S,
        h, w, over the ``slots``) and in the ``tags`` regions by the CAMs
        of the ``logits`` (B, K, H, W), pooled to the grid."""
        def fill(score, regions):
            if not len(regions.image):  # nothing to fill: no work
                B, _, h, w = score.shape
                return torch.full((B, h, w), UNLABELLED, dtype=torch.long, device=score.device)
            regions = regions._replace(label=slots.slot_of(regions.image, regions.label))
            return slots.class_of(fill_assignment(score, regions))

        filled = fill(posterior, boxes)
        if tags.image.numel():
            logits = F.adaptive_avg_pool2d(logits, posterior.shape[-2:])
            seeds = fill(slots.gather(self._cams(logits, image_tags)), tags)
            filled = torch.where(filled != UNLABELLED, filled, seeds)
        return filled

    def _tag_regions(self, image_tags, in_crop, boxed, valid) -> Regions:
        """A crop with image tags only is the region of each tagged object
        class it has no labelled pixel of (fill ``fill_ratio['tag']``), and
        of background when it has no labelled pixel at all (fill
        ``fill_ratio['background']``). valid: (B, h, w) the grid's
        non-padding cells."""
        if self.fill_ratio['tag'] == 0 and self.fill_ratio['background'] == 0:
            none = torch.zeros(0, dtype=torch.long, device=image_tags.device)
            return Regions(none, none, valid[none], none.float())
        fill = torch.full(image_tags.shape, self.fill_ratio['tag'], device=image_tags.device)
        no_label = ~in_crop.any(1)
        if self.background_id is not None:
            fill[:, self.background_id] = torch.where(no_label, self.fill_ratio['background'],
                                                      0.0)
        wanted = image_tags & ~in_crop & ~boxed.any(1, keepdim=True) & (fill > 0)
        image, label = wanted.nonzero(as_tuple=True)
        return Regions(image, label, valid[image], fill[image, label])

    def _cams(self, logits, image_tags):
        """Class activation maps (B, K, h, w) from the CAM classifier's
        logits (B, K, h, w): the logit z_k of each class (term 10 trains them
        as a classifier over pooled logits), and for background minus the
        largest CAM of the tagged object classes (background is where no
        object is)."""
        cams = logits.clone()
        if self.background_id is not None:
            objects = image_tags.clone()
            objects[:, self.background_id] = False
            strongest = cams.masked_fill(~objects[..., None, None], -math.inf).amax(1)
            cams[:, self.background_id] = -strongest
        return cams

    def _agmm_plus_terms(self, seg_logits, feat, labels, cell_labels, cell_valid,
                         posterior, pixel_posterior, slots, cell_fill, pixel_fill, crop_tags,
                         image_tags, cams):
        """Terms 7-10. ``posterior`` (B, S, h, w) is the detached E-step over
        the ``slots``, ``pixel_posterior`` (B, S, H, W) the same upsampled;
        ``cell_fill`` (B, h, w) and ``pixel_fill`` (B, H, W) the fill
        prior's classes; ``cams`` (B, K, h, w) the CAM head's, or None (the
        CAMs are the logits)."""
        ramp = self._ramp(int(self.mixture.num_updates))

        def candidates(posterior, filled, unlabelled):
            confidence, slot = posterior.max(1)
            return PseudoLabelCandidates(confidence, slots.class_of(slot), filled,
                                         unlabelled)

        # Each cell's component: its label, else its pseudo-label.
        cell_pseudo = pseudo_labels(candidates(posterior, cell_fill, cell_labels == UNLABELLED),
                                    self.threshold)
        assignment = torch.where(cell_labels == UNLABELLED, cell_pseudo, cell_labels)
        # The network's unlabelled pixels learn their pseudo-labels.
        pixel_candidates = candidates(pixel_posterior, pixel_fill, labels == UNLABELLED)
        if self.keep_candidates:
            self.last_candidates = pixel_candidates
        pseudo = pseudo_labels(pixel_candidates, self.threshold)
        use_pseudo = pseudo != UNLABELLED
        pseudo_target = pseudo.masked_fill(~use_pseudo, IGNORE_INDEX)
        loss_pseudo = F.cross_entropy(seg_logits, pseudo_target, ignore_index=IGNORE_INDEX,
                                      reduction='sum') / use_pseudo.sum().clamp(min=1)

        loss_max = (self._maximisation_loss(feat, cell_valid, assignment)
                    if self._weighs('loss_max') else self._skipped(seg_logits))

        if cams is None:
            cams, cam_valid = seg_logits, labels != IGNORE_INDEX
        else:
            cam_valid = cell_valid
        loss_cls = image_class_loss(cams, crop_tags, ~image_tags, cam_valid, self.cam_pool_ratio)
        if self.training:
            self.mixture.update(feat, assignment)  # M-step after this iteration's E-step
        return dict(loss_max=ramp * loss_max, loss_pseudo=ramp * loss_pseudo,
                    loss_cls=loss_cls)

    def _ramp(self, iteration: int) -> float:
        """Weight of the pseudo-label and maximisation losses: 0 before
        ``warmup_start``, then rising linearly to 1 over ``warmup_iters``."""
        done = iteration - self.warmup_start
        if done < 0:
            return 0.0
        return min(1.0, done / self.warmup_iters) if self.warmup_iters else 1.0

    def _maximisation_loss(self, feat, cell_valid, assignment):
        """Term 8: cross-entropy of the running mixture's posterior against
        each cell's component. The statistics are buffers, so the gradient
        moves the features only: toward their component, away from the rest."""
        mixture = self.mixture
        known = mixture.initialised
        log_lik = mixture.log_likelihood(feat, valid_mask=cell_valid) * self.log_lik_scale
        log_lik = log_lik.masked_fill(~known[None, :, None, None], float('-inf'))
        target_ok = labelled_mask(assignment) & known[assignment.clamp(max=self.num_classes - 1)]
        if int(known.sum()) < 2 or not target_ok.any():
            return feat.sum() * 0
        target = torch.where(target_ok, assignment, torch.full_like(assignment, IGNORE_INDEX))
        return F.cross_entropy(log_lik, target, ignore_index=IGNORE_INDEX)


def _upsample_mask(mask: torch.Tensor, size) -> torch.Tensor:
    """(B, K, h, w) bool -> (B, K, H, W) bool, nearest neighbour."""
    return F.interpolate(mask.float(), size=tuple(size), mode='nearest') > 0.5
