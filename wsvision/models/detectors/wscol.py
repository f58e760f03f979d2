"""WSCoL: weak-to-strong contrastive learning for source-free domain-adaptive
detection (methods.md, section 4).

A Faster R-CNN trained on the source domain is adapted to an unlabelled target
domain. The module reads top to bottom like the method:

1. Mean-teacher core (``WSCoL.loss``): the EMA teacher labels the weak view
   (score >= 0.9, images without pseudo-boxes are skipped), the student learns
   the detection losses on the strong view, plus a KL consistency between the
   teacher's and the student's RoI logits on the teacher's proposals (loss 1).
2. ``MappingNetwork``: weak (teacher) and strong (student) RoI features into a
   shared, L2-normalised space (loss 2: 3 convs, FC, projection).
3. ``PrototypeMemory`` + ``prototype_clustering``: a memory bank of teacher
   RoI features feeds per-class prototypes (EMA 0.4) that seed k-means steps
   labelling the proposals; early in training the labels blend in the plain
   memory assignment (``adaptation_weight``).
4. ``nms_count_variance``: the background-uncertainty estimator; above 20 the
   contrast uses foreground proposals only.
5. ``supervised_contrastive_loss`` on the strong features (T 0.07, weight 0.5).
6. Weak-to-strong guidance: the same loss over the concatenated weak and
   strong features (weight 0.01), and ``gradient_discrepancy`` between the
   mapping network's gradients from the weak-view and strong-view CE (0.1).

Every part is switched by the ``wscol`` config dict of ``WSCoL`` (see
``WSCoL.DEFAULTS``); with all of them off, the model is a plain mean teacher.
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.structures import InstanceData
from torchvision.ops import box_iou, nms

from ...registry import MODELS
from ...structures import DetDataSample
from ..teacher_student import (ClassFeatureQueue, MeanTeacherModel,
                               add_pl_stats, split_pseudo_labels)
from .faster_rcnn import img_shapes


# ----------------------------------------------------- 2. the mapping network
class MappingNetwork(nn.Module):
    """Pooled RoI features (N, C, S, S) -> embeddings (N, out_dim), unit norm.

    ``num_convs`` 3x3 convolutions, a fully connected layer (2048 wide in the
    reference) and a linear projection (512-d).
    """

    def __init__(self, in_channels: int, roi_size: int, conv_channels: int = 256,
                 num_convs: int = 3, fc_dim: int = 2048, out_dim: int = 512):
        super().__init__()
        layers, channels = [], in_channels
        for _ in range(num_convs):
            layers += [nn.Conv2d(channels, conv_channels, 3, padding=1),
                       nn.ReLU(inplace=True)]
            channels = conv_channels
        self.convs = nn.Sequential(*layers)
        self.fc = nn.Linear(channels * roi_size * roi_size, fc_dim)
        self.projection = nn.Linear(fc_dim, out_dim)

    def forward(self, pooled_feats: torch.Tensor) -> torch.Tensor:
        x = self.convs(pooled_feats).flatten(1)
        return F.normalize(self.projection(F.relu(self.fc(x))), dim=1)


# ------------------------------------- 3. memory bank, prototypes, clustering
class PrototypeMemory(nn.Module):
    """A memory bank of teacher RoI embeddings and per-class prototypes.

    ``bank`` is the shared ``ClassFeatureQueue`` (it all-gathers what is
    pushed, so every DDP rank holds the same queues); ``prototypes`` (C, D)
    follow the bank means by EMA: ``p <- m p + (1 - m) mean(bank_c)`` with
    m = ``momentum`` (0.4), and take the mean directly the first time class c
    has entries. Both are deterministic functions of the gathered bank, so
    they agree across ranks.
    """

    def __init__(self, num_classes: int, dim: int, size: int,
                 momentum: float = 0.4):
        super().__init__()
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f'prototype momentum must be in [0, 1), got {momentum}')
        self.momentum = momentum
        self.bank = ClassFeatureQueue(num_classes, dim, size)
        self.register_buffer('prototypes', torch.zeros(num_classes, dim))
        self.register_buffer('initialised', torch.zeros(num_classes,
                                                        dtype=torch.bool))

    @torch.no_grad()
    def update(self, feats: torch.Tensor, labels: torch.Tensor) -> None:
        """Push (n, D) features with labels (n,) (collective under DDP: call
        it on every rank, with n = 0 where a rank has nothing) and move the
        prototypes of every class the bank holds."""
        self.bank.push(feats.detach(), labels)
        filled = self.bank.counts.to(self.prototypes.device) > 0
        means = self.bank.means().to(self.prototypes)
        blended = self.momentum * self.prototypes + (1 - self.momentum) * means
        new = torch.where(self.initialised[:, None], blended, means)
        self.prototypes.copy_(torch.where(filled[:, None], new, self.prototypes))
        self.initialised |= filled


def prototype_clustering(feats: torch.Tensor, prototypes: torch.Tensor,
                         valid: torch.Tensor, num_steps: int = 4
                         ) -> Tuple[torch.Tensor, torch.Tensor]:
    """k-means on the unit sphere seeded by the prototypes (section 4, loss 3).

    feats: (N, D) unit-norm embeddings; prototypes: (C, D); valid: (C,) bool,
    the prototypes that may take points (classes the memory has seen).
    Each step assigns every point to its most similar centre (cosine) and
    moves each centre to the normalised mean of its points; a centre without
    points stays. Returns the cosine similarities (N, C) to the final centres
    (-inf for invalid ones) and the final centres (C, D).
    """
    if not bool(valid.any()):
        raise ValueError('prototype_clustering needs at least one valid prototype')
    centres = F.normalize(prototypes, dim=1)
    invalid = ~valid
    for _ in range(num_steps):
        assign = (feats @ centres.T).masked_fill(invalid, -math.inf).argmax(1)
        members = F.one_hot(assign, centres.shape[0]).to(feats)
        sums = members.T @ feats
        centres = torch.where(members.sum(0)[:, None] > 0,
                              F.normalize(sums, dim=1), centres)
    return (feats @ centres.T).masked_fill(invalid, -math.inf), centres


def adaptation_weight(step: int, blend_iters: int, max_weight: float) -> float:
    """Weight of the memory assignment in the cluster labels: grows linearly
    from 0 to ``max_weight`` over the first ``blend_iters`` iterations."""
    if blend_iters <= 0:
        return max_weight
    return max_weight * min(1.0, step / blend_iters)


# -------------------------------------------- 4. background-uncertainty estimator
def nms_count_variance(boxes: torch.Tensor, objectness: torch.Tensor,
                       score_thr: float = 0.5,
                       iou_thrs: Sequence[float] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
                       ) -> float:
    """Variance of the number of boxes NMS keeps over a range of IoUs.

    boxes: (n, 4) RPN proposals of one image; objectness: (n,) in [0, 1].
    Proposals above ``score_thr`` go through NMS at every IoU in
    ``iou_thrs``; the population variance of the kept counts is returned.
    Proposals piled on a few objects give counts that grow with the IoU
    (large variance, the background is uncertain); scattered ones survive
    every NMS (variance 0).
    """
    keep = objectness > score_thr
    boxes, objectness = boxes[keep], objectness[keep]
    counts = torch.tensor([float(nms(boxes, objectness, iou).numel())
                           for iou in iou_thrs])
    return counts.var(unbiased=False).item()


# ------------------------------------------------------ 5. contrastive losses
def supervised_contrastive_loss(feats: torch.Tensor, labels: torch.Tensor,
                                temperature: float = 0.07,
                                hard_positives: bool = True) -> torch.Tensor:
    """Supervised contrastive loss (Khosla et al. 2020) on unit-norm (N, D).

    For anchor i with positives P(i) (same label, not i)::

        L_i = - sum_{p in P(i)} w_ip log( exp(s_ip / T) / sum_{a != i} exp(s_ia / T) )

    with s the cosine similarity. ``w_ip`` is 1 / |P(i)|, or, with
    ``hard_positives``, softmax over P(i) of ``-s_ip / T`` (no gradient), which
    focuses each anchor on its least similar positives. The loss is the mean
    over anchors that have a positive (0 when none has).
    """
    num = feats.shape[0]
    not_self = ~torch.eye(num, dtype=torch.bool, device=feats.device)
    positives = (labels[:, None] == labels[None, :]) & not_self
    anchors = positives.any(1)
    if not bool(anchors.any()):
        return feats.sum() * 0.0
    similarity = feats @ feats.T / temperature
    log_prob = similarity - torch.logsumexp(
        similarity.masked_fill(~not_self, -math.inf), dim=1, keepdim=True)
    if hard_positives:
        weights = torch.softmax(
            (-similarity.detach()).masked_fill(~positives, -math.inf)[anchors], 1)
    else:
        weights = positives[anchors].to(feats)
        weights = weights / weights.sum(1, keepdim=True)
    terms = (weights * log_prob[anchors].masked_fill(~positives[anchors], 0.0))
    return -terms.sum(1).mean()


# -------------------------------------------------- 6. gradient discrepancy
def gradient_discrepancy(weak_loss: torch.Tensor, strong_loss: torch.Tensor,
                         params: Sequence[nn.Parameter]) -> torch.Tensor:
    """1 - cos between the gradients of two losses w.r.t. ``params``
    (flattened and concatenated), differentiable (second order)."""
    weak_grads = torch.autograd.grad(weak_loss, params, create_graph=True,
                                     allow_unused=True)
    strong_grads = torch.autograd.grad(strong_loss, params, create_graph=True,
                                       allow_unused=True)
    pairs = [(w, s) for w, s in zip(weak_grads, strong_grads)
             if w is not None and s is not None]
    if not pairs:
        raise ValueError('gradient_discrepancy: neither loss depends on params')
    weak = torch.cat([w.flatten() for w, _ in pairs])
    strong = torch.cat([s.flatten() for _, s in pairs])
    return 1.0 - F.cosine_similarity(weak, strong, dim=0, eps=1e-12)


# ------------------------------------------------------------------ the model
@MODELS.register_module()
class WSCoL(MeanTeacherModel):
    """Mean-teacher Faster R-CNN with WSCoL's contrastive terms.

    Args:
        detector: the ``FasterRCNN`` config (student; the teacher is its EMA).
        wscol: overrides of ``DEFAULTS`` (unknown keys are an error). A weight
            of 0 switches its term off; ``clustering`` / ``uncertainty`` switch
            the cluster labels and the foreground-only rule.
        predict_with: ``'teacher'`` (default) or ``'student'``.
        data_preprocessor: normalises the weak view (``inputs``) and, through
            the same module, the strong view (``data_samples.strong_inputs``
            from ``WeakStrongViews``).

    The source detector comes in through the config's ``load_from``: a
    checkpoint of the detector alone fills both student and teacher
    (``MeanTeacherModel``). ``update_teacher(momentum)`` is driven by
    ``MeanTeacherHook``: per epoch with keep rate 0.9 as in the paper, or per
    iteration. ``pl_stats`` follows ``PseudoLabelQualityHook``'s protocol
    when the samples carry the hidden ground truth (``hidden_bboxes`` /
    ``hidden_labels`` metainfo).
    """

    DEFAULTS = dict(
        score_thr=0.9,            # teacher pseudo-box threshold (loss 1)
        unsup_weight=1.0,         # detection losses on the pseudo-boxes
        kl_weight=1.0,            # KL(teacher || student) on RoI logits
        num_rois=64,              # teacher proposals per image for KL / contrast
        fg_iou=0.5,               # RoI keeps its pseudo-box's label above this
        mapping=dict(conv_channels=256, num_convs=3, fc_dim=2048, out_dim=512),
        memory_size=256,          # entries per class in the memory bank
        prototype_momentum=0.4,   # EMA of the prototypes (loss 3)
        bg_per_image=8,           # background RoIs pushed to the memory per image
        bg_iou=0.3,               # ... those below this IoU with every pseudo-box
        clustering=True,          # prototype-seeded k-means labels (loss 3)
        cluster_steps=4,
        blend_iters=2000,         # adaptation-aware blending ramp (iterations)
        blend_max=0.5,            # final weight of the memory assignment
        uncertainty=True,         # background-uncertainty switch (loss 4)
        uncertainty_thr=20.0,
        objectness_thr=0.5,
        nms_ious=(0.0, 0.1, 0.2, 0.3, 0.4, 0.5),
        contrast_weight=0.5,      # supervised contrast on strong features (5)
        temperature=0.07,
        hard_positives=True,
        weak_strong_weight=0.01,  # contrast over weak + strong features (6)
        grad_discrepancy_weight=0.1,  # 1 - cos of mapping-network gradients (6)
        grad_discrepancy_params='all',  # 'all' mapping parameters, or 'head'
                                        # (FC + projection: cheaper on CPUs)
    )
    # Only training reads these: a teacher-only (zoo) checkpoint omits them.
    training_state_prefixes = ('mapping.', 'memory.', 'step')

    def __init__(self, detector: dict, wscol: Optional[dict] = None,
                 predict_with: str = 'teacher',
                 data_preprocessor: Optional[dict] = None, init_cfg=None):
        super().__init__(MODELS.build(detector),
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        unknown = sorted(set(wscol or {}) - set(self.DEFAULTS))
        if unknown:
            raise ValueError(f'WSCoL: unknown wscol keys {unknown}; valid keys: '
                             f'{sorted(self.DEFAULTS)}')
        if predict_with not in ('teacher', 'student'):
            raise ValueError("WSCoL: predict_with must be 'teacher' or "
                             f"'student', got {predict_with!r}")
        self.cfg = dict(self.DEFAULTS, **(wscol or {}))
        if self.cfg['grad_discrepancy_params'] not in ('all', 'head'):
            raise ValueError("WSCoL: wscol.grad_discrepancy_params must be 'all' "
                             f"or 'head', got {self.cfg['grad_discrepancy_params']!r}")
        self.mapping_cfg = dict(self.DEFAULTS['mapping'],
                                **self.cfg['mapping'])
        self.predict_with = predict_with
        roi_head = self.student.roi_head
        self.num_classes = roi_head.num_classes
        self.uses_embeddings = any(self.cfg[k] > 0 for k in (
            'contrast_weight', 'weak_strong_weight', 'grad_discrepancy_weight'))
        if self.uses_embeddings:
            pooler = roi_head.roi_align
            in_channels = roi_head.box_head.fc6.in_features // (
                pooler.output_size[0] * pooler.output_size[1])
            self.mapping = MappingNetwork(in_channels, pooler.output_size[0],
                                          **self.mapping_cfg)
            # Classes 0..K-1 and background (K).
            self.memory = PrototypeMemory(
                self.num_classes + 1, self.mapping_cfg['out_dim'],
                self.cfg['memory_size'], self.cfg['prototype_momentum'])
        self.register_buffer('step', torch.zeros((), dtype=torch.long))

    # ------------------------------------------------------------ inference
    def predict(self, inputs, data_samples, rescale: bool = True):
        model = self.teacher if self.predict_with == 'teacher' else self.student
        return model.predict(inputs, data_samples, rescale=rescale)

    def tensor_forward(self, inputs, data_samples=None):
        return self.student.tensor_forward(inputs, data_samples)

    # ------------------------------------------------------------- training
    def loss(self, inputs: torch.Tensor,
             data_samples: List[DetDataSample]) -> Dict[str, torch.Tensor]:
        """``inputs``: the normalised weak views (B, 3, H, W)."""
        self.step += 1
        strong = self._strong_inputs(data_samples)
        teacher = self._teacher_step(inputs, data_samples)
        keep = [i for i, pl in enumerate(teacher['pseudo']) if len(pl) > 0]

        weak_emb = labels = None
        if self.uses_embeddings:
            weak_emb = self.mapping(teacher['rois'].pooled_feats)
            labels = self._update_memory(weak_emb.detach(), teacher, keep)
        if not keep:  # no image has a pseudo-box: skip the batch
            return self._zero_losses()

        rows = self._rows_of(teacher['rois'].num_per_image, keep)
        pl_samples = [self._pl_sample(data_samples[i], teacher['pseudo'][i])
                      for i in keep]
        feats = self.student.extract_feat(strong[keep])
        rpn = self.student.rpn_proposals(strong[keep], feats, pl_samples,
                                         with_loss=True)
        det_losses, _, _ = self.student.roi_head.loss(
            self.student.roi_adapter(feats), rpn.proposals,
            [s.gt_instances for s in pl_samples])
        losses = {f'unsup_{k}': v * self.cfg['unsup_weight']
                  for k, v in {**rpn.losses, **det_losses}.items()}
        student_rois = self.student.roi_forward(
            feats, [teacher['rois'].proposals[i] for i in keep])
        if self.cfg['kl_weight'] > 0:  # loss 1: RoI-logit consistency
            losses['loss_kl'] = self.cfg['kl_weight'] * F.kl_div(
                F.log_softmax(student_rois.cls_logits, dim=1),
                F.log_softmax(teacher['rois'].cls_logits[rows], dim=1),
                log_target=True, reduction='batchmean')
        if self.uses_embeddings:
            losses.update(self._contrastive_losses(
                weak_emb[rows], self.mapping(student_rois.pooled_feats),
                labels[rows], teacher, keep, student_rois.num_per_image))
        return losses

    def _strong_inputs(self, data_samples) -> torch.Tensor:
        if not all('strong_inputs' in s for s in data_samples):
            raise ValueError('WSCoL needs data_samples.strong_inputs: end the '
                             'training pipeline with WeakStrongViews')
        return self.data_preprocessor(dict(
            inputs=[s.strong_inputs for s in data_samples]), True)['inputs']

    @torch.no_grad()
    def _teacher_step(self, inputs, data_samples) -> dict:
        """The teacher on the weak view: pseudo-boxes (score >= ``score_thr``),
        its RoI outputs on [pseudo-boxes, top-``num_rois`` proposals] of every
        image, and each image's NMS keep-count variance."""
        teacher = self.teacher
        feats = teacher.extract_feat(inputs)
        rpn = teacher.rpn_proposals(inputs, feats, data_samples)
        detections = teacher.roi_head.predict(
            teacher.roi_adapter(feats), rpn.proposals,
            img_shapes(inputs, data_samples))
        pseudo = [split_pseudo_labels(d.bboxes, d.scores, d.labels,
                                      hard_thr=self.cfg['score_thr']).hard
                  for d in detections]
        self._record_pl_quality(pseudo, data_samples)
        boxes, num_pseudo, variances = [], [], []
        for pl, proposals, objectness in zip(pseudo, rpn.proposals, rpn.scores):
            top = objectness.argsort(descending=True)[:self.cfg['num_rois']]
            boxes.append(torch.cat([pl.bboxes, proposals[top]]))
            num_pseudo.append(len(pl))
            variances.append(nms_count_variance(
                proposals, objectness, self.cfg['objectness_thr'],
                self.cfg['nms_ious']) if self.cfg['uncertainty'] else 0.0)
        return dict(pseudo=pseudo, rois=teacher.roi_forward(feats, boxes),
                    num_pseudo=num_pseudo, variances=variances)

    def _record_pl_quality(self, pseudo, data_samples) -> None:
        if not all('hidden_bboxes' in s.metainfo for s in data_samples):
            return
        stats = getattr(self, 'pl_stats', None) or {}
        for pl, sample in zip(pseudo, data_samples):
            gt = InstanceData(
                bboxes=torch.as_tensor(sample.metainfo['hidden_bboxes']),
                labels=torch.as_tensor(sample.metainfo['hidden_labels']))
            add_pl_stats(stats, pl, gt)
        self.pl_stats = stats

    def _roi_labels(self, teacher: dict) -> Tuple[torch.Tensor, torch.Tensor]:
        """Per RoI of the teacher: the pseudo-box label where IoU >= fg_iou
        (K = background elsewhere), and whether it overlaps no pseudo-box
        (IoU < bg_iou)."""
        labels, clear_bg = [], []
        for pl, boxes in zip(teacher['pseudo'], teacher['rois'].proposals):
            label = torch.full((len(boxes),), self.num_classes,
                               dtype=torch.long, device=boxes.device)
            iou = torch.zeros(len(boxes), device=boxes.device)
            if len(pl):
                overlaps = box_iou(boxes, pl.bboxes)
                iou, match = overlaps.max(1)
                label = torch.where(iou >= self.cfg['fg_iou'],
                                    pl.labels[match], label)
            labels.append(label)
            clear_bg.append(iou < self.cfg['bg_iou'])
        return torch.cat(labels), torch.cat(clear_bg)

    def _update_memory(self, weak_emb, teacher, keep) -> torch.Tensor:
        """Push the kept images' pseudo-box embeddings and up to
        ``bg_per_image`` clear-background ones (collective: every rank pushes
        every iteration), then label every RoI: pseudo-box matches keep
        their label, the others get the cluster label (loss 3) or
        background."""
        labels, clear_bg = self._roi_labels(teacher)
        starts = [0] + torch.tensor(teacher['rois'].num_per_image).cumsum(0).tolist()
        push = []
        for i in keep:
            start, num_pseudo = starts[i], teacher['num_pseudo'][i]
            background = start + torch.where(
                clear_bg[start:starts[i + 1]])[0][:self.cfg['bg_per_image']]
            push += [torch.arange(start, start + num_pseudo), background.cpu()]
        push = torch.cat(push).to(labels.device) if push else labels.new_zeros(0)
        self.memory.update(weak_emb[push], labels[push])
        matched = labels < self.num_classes
        if (self.cfg['clustering'] and not bool(matched.all())
                and bool(self.memory.initialised.any())):
            labels = torch.where(matched, labels,
                                 self._cluster_labels(weak_emb))
        return labels

    def _cluster_labels(self, weak_emb: torch.Tensor) -> torch.Tensor:
        """Prototype-seeded k-means labels, blended early in training with
        the plain assignment to the memory prototypes (adaptation-aware)."""
        prototypes = F.normalize(self.memory.prototypes, dim=1)
        valid = self.memory.initialised
        kmeans_sim, _ = prototype_clustering(weak_emb, prototypes, valid,
                                             self.cfg['cluster_steps'])
        alpha = adaptation_weight(int(self.step), self.cfg['blend_iters'],
                                  self.cfg['blend_max'])
        blended = ((1 - alpha) * kmeans_sim.masked_fill(~valid, 0.0)
                   + alpha * weak_emb @ prototypes.T)
        return blended.masked_fill(~valid, -math.inf).argmax(1)

    def _contrastive_losses(self, weak_emb, strong_emb, labels, teacher, keep,
                            num_per_image) -> Dict[str, torch.Tensor]:
        """Losses 4-6 on the kept images' RoIs (weak_emb, strong_emb (N, D),
        labels (N,))."""
        cfg = self.cfg
        # Loss 4: where the NMS keep-count variance is high the background is
        # uncertain, and that image contrasts its foreground RoIs only.
        fg_only = torch.cat([
            torch.full((n,), teacher['variances'][i] > cfg['uncertainty_thr'])
            for i, n in zip(keep, num_per_image)]).to(labels.device)
        use = (labels < self.num_classes) | ~fg_only
        weak_emb, strong_emb, labels = weak_emb[use], strong_emb[use], labels[use]
        losses = {}
        if cfg['uncertainty'] and len(keep):  # logged, not optimised
            variance = labels.new_tensor([float(teacher['variances'][i])
                                          for i in keep], dtype=torch.float32)
            losses['nms_count_var'] = variance.mean()
            losses['fg_only_frac'] = (variance > cfg['uncertainty_thr']).float().mean()
        if cfg['contrast_weight'] > 0:  # loss 5
            losses['loss_contrast'] = cfg['contrast_weight'] * \
                supervised_contrastive_loss(strong_emb, labels,
                                            cfg['temperature'],
                                            cfg['hard_positives'])
        if cfg['weak_strong_weight'] > 0:  # loss 6a
            losses['loss_weak_strong'] = cfg['weak_strong_weight'] * \
                supervised_contrastive_loss(
                    torch.cat([weak_emb, strong_emb]), labels.repeat(2),
                    cfg['temperature'], cfg['hard_positives'])
        if cfg['grad_discrepancy_weight'] > 0:  # loss 6b
            losses['loss_grad_discrepancy'] = \
                cfg['grad_discrepancy_weight'] * self._grad_discrepancy(
                    weak_emb, strong_emb, labels)
        return losses

    def _grad_discrepancy(self, weak_emb, strong_emb, labels) -> torch.Tensor:
        """1 - cos between the mapping network's gradients of the weak-view
        and strong-view cross-entropy over the prototypes (logits: cosine to
        each prototype / T)."""
        valid = self.memory.initialised
        usable = valid[labels]
        if not bool(usable.any()):
            return strong_emb.sum() * 0.0
        prototypes = F.normalize(self.memory.prototypes, dim=1)

        def cross_entropy(emb):
            logits = (emb[usable] @ prototypes.T / self.cfg['temperature'])
            return F.cross_entropy(logits.masked_fill(~valid, -math.inf),
                                   labels[usable])
        mapping = self.mapping
        params = (list(mapping.parameters())
                  if self.cfg['grad_discrepancy_params'] == 'all' else
                  [*mapping.fc.parameters(), *mapping.projection.parameters()])
        return gradient_discrepancy(cross_entropy(weak_emb),
                                    cross_entropy(strong_emb), params)

    # -------------------------------------------------------------- helpers
    @staticmethod
    def _rows_of(num_per_image: List[int], keep: List[int]) -> torch.Tensor:
        starts = [0] + torch.tensor(num_per_image).cumsum(0).tolist()
        return torch.cat([torch.arange(starts[i], starts[i + 1]) for i in keep])

    @staticmethod
    def _pl_sample(sample: DetDataSample, pseudo: InstanceData) -> DetDataSample:
        pl_sample = DetDataSample(metainfo=sample.metainfo)
        pl_sample.gt_instances = InstanceData(bboxes=pseudo.bboxes,
                                              labels=pseudo.labels)
        return pl_sample

    def _zero_losses(self) -> Dict[str, torch.Tensor]:
        """A zero loss that touches every trainable parameter (so DDP's
        gradient sync sees them all) for a batch without pseudo-boxes."""
        zero = sum(p.sum() * 0.0 for p in self.parameters() if p.requires_grad)
        return dict(unsup_loss_skipped=zero)
