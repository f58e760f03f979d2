"""MarvelOVD (ECCV 2024): open-vocabulary detection trained on VLM
pseudo-labels, with online mining, stratified assignment and adaptive
reweighting. The spec is methods.md section 2; each piece is switchable from
the config for the ablation.

Training data: base ground truth plus offline pseudo-labels (PLs, see
``pseudo_labels.py``); ``gt_instances`` carry ``pl_flags`` (bool) and
``scores`` (the PL's VLM score, 1 for ground truth). One iteration:

1. *Box selection.* During burn-in (the first ``burn_in_iters`` iterations)
   and whenever ``mining`` is off, keep the PLs with VLM score >=
   ``pl_score_thr`` (0.9). After burn-in, *online mining* scores every PL box
   with the detector on the weak view: the novelty z is the sum of the
   softmax probabilities of the novel classes, and the fused score is
   ``s = 0.5 * vlm + 0.5 * z / max z`` (max over the image's PLs); PLs with
   ``s >= mining_thr`` (0.9) are kept (``mining_scores``).
2. *Stratified assignment* (``StratifiedAssigner``): proposals are matched to
   base ground truth first (IoU 0.5); only proposals left unmatched are then
   matched to the novel PLs.
3. *Adaptive reweighting* after burn-in: a proposal matched to a PL weighs
   ``w = 2 * (0.5 * (1 - b) + 0.5 * s)`` in the cross-entropy, b being its
   background probability on the weak view (``adaptive_weights``); base and
   background proposals weigh 1.
4. The student is trained on the weak view and, with ``strong_view``, on the
   strong view too (same boxes: the views share their geometry).

The classifier (``TextEmbeddingClassifier``) takes dot products of projected
RoI features with frozen prompt-ensemble text embeddings of all class names
(base and novel), plus a zero background row, so at test time it scores base
and novel classes alike. Novel classes are named in the config, never
hard-coded as indices.
"""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import MessageHub
from mmengine.structures import InstanceData

from ...registry import ENCODERS, MODELS
from ...structures import DetDataSample
from ..detectors.faster_rcnn import FasterRCNN
from ..teacher_student import add_pl_stats
from ..roi_heads import BACKGROUND, AssignResult, MaxIoUAssigner


# ------------------------------------------------------------- classifier
@MODELS.register_module()
class TextEmbeddingClassifier(nn.Module):
    """Logits = cos(W x, t_k) / temperature for K class-name embeddings t_k,
    plus a background logit from an all-zero embedding (always 0).

    Args:
        in_channels, num_classes: filled in by the RoI head.
        vlm: ``ENCODERS`` config of the VLM whose text tower embeds the names
            (only its text embeddings are kept, as a buffer).
        class_names: the K names, in label order.
        templates: prompt templates (default: the VLM prompt ensemble).
        temperature: softmax temperature of the cosine logits.
    """

    def __init__(self, in_channels: int, num_classes: int, vlm: dict,
                 class_names: Sequence[str],
                 templates: Optional[Sequence[str]] = None,
                 temperature: float = 0.05):
        super().__init__()
        if len(class_names) != num_classes:
            raise ValueError(f'TextEmbeddingClassifier: {len(class_names)} '
                             f'class_names for num_classes={num_classes}')
        encoder = ENCODERS.build(vlm)
        embeds = (encoder.class_embeddings(class_names) if templates is None
                  else encoder.class_embeddings(class_names, templates))
        self.register_buffer('text_embeds', embeds.float())
        self.class_names = list(class_names)
        self.proj = nn.Linear(in_channels, embeds.shape[1])
        self.temperature = temperature

    def forward(self, roi_feats: torch.Tensor) -> torch.Tensor:
        feats = F.normalize(self.proj(roi_feats), dim=-1)
        logits = feats @ self.text_embeds.t() / self.temperature
        return torch.cat([logits, logits.new_zeros(logits.shape[0], 1)], dim=1)


# ---------------------------------------------------------------- assigner
@MODELS.register_module()
class StratifiedAssigner(MaxIoUAssigner):
    """Base ground truth first, then PLs for the proposals left unmatched.

    ``gt_instances.pl_flags`` (bool) marks the PLs; without it every box is
    ground truth and this is ``MaxIoUAssigner``. Thresholds as there.
    """

    def assign(self, proposals: torch.Tensor,
               gt_instances: InstanceData) -> AssignResult:
        if 'pl_flags' not in gt_instances or not gt_instances.pl_flags.any():
            return super().assign(proposals, gt_instances)
        is_pl = gt_instances.pl_flags.bool()
        base_idx, pl_idx = torch.where(~is_pl)[0], torch.where(is_pl)[0]
        result = super().assign(proposals, gt_instances[base_idx])
        matched = result.matched_gt_idx.clone()
        on_base = matched >= 0
        matched[on_base] = base_idx[matched[on_base]]
        labels = result.labels.clone()
        free = torch.where(result.matched_gt_idx == BACKGROUND)[0]
        if free.numel():
            novel = super().assign(proposals[free], gt_instances[pl_idx])
            hit = novel.matched_gt_idx >= 0
            matched[free[hit]] = pl_idx[novel.matched_gt_idx[hit]]
            labels[free[hit]] = novel.labels[hit]
            ignored = novel.matched_gt_idx < BACKGROUND
            matched[free[ignored]] = novel.matched_gt_idx[ignored]
            labels[free[ignored]] = -1
        return AssignResult(matched, labels)


# ------------------------------------------------------- the method's maths
def mining_scores(vlm_scores: torch.Tensor, novelty: torch.Tensor,
                  vlm_weight: float = 0.5) -> torch.Tensor:
    """Fused PL score s = w * vlm + (1 - w) * z / max z over one image's PLs
    (z = 0 everywhere gives z / max z = 0)."""
    if novelty.numel() == 0:
        return vlm_scores.clone()
    normalised = novelty / novelty.max().clamp(min=1e-12)
    return vlm_weight * vlm_scores + (1 - vlm_weight) * normalised


def adaptive_weights(background_prob: torch.Tensor,
                     scores: torch.Tensor) -> torch.Tensor:
    """w = 2 * (0.5 * (1 - b) + 0.5 * s) for PL-matched proposals."""
    return 2 * (0.5 * (1 - background_prob) + 0.5 * scores)


def current_iter() -> int:
    """The runner's iteration (0 outside a runner)."""
    return int(MessageHub.get_current_instance().get_info('iter', 0) or 0)


# ------------------------------------------------------------------- model
@MODELS.register_module()
class MarvelOVD(FasterRCNN):
    """Faster R-CNN trained on base ground truth and mined VLM pseudo-labels.

    Args:
        novel_classes: names of the novel classes (must appear in the
            classifier's ``class_names``); used by mining's novelty score.
        burn_in_iters: iterations that use only base GT and PLs with VLM
            score >= ``pl_score_thr``.
        pl_score_thr: that threshold (also used after burn-in when mining
            is off, the VL-PLM-style baseline).
        mining: online mining after burn-in; ``mining_thr`` keeps PLs with
            s >= it; ``mining_vlm_weight`` is the weight of the VLM score.
        reweight: adaptive reweighting of PL-matched proposals after burn-in.
        strong_view: also train on the strong view, read from each data
            sample's ``strong_view_key`` field (raw image, like ``inputs``).
        Other arguments as ``FasterRCNN``; use ``StratifiedAssigner`` in the
        RoI head for stratified assignment, ``MaxIoUAssigner`` without it.

    Each ``loss`` logs ``pl_given`` / ``pl_kept`` (PLs in the batch and
    PLs used) and ``pl_mean_s``. When the data samples carry
    ``hidden_instances`` (hidden ground truth, see ``OVDPseudoLabelDataset``),
    ``self.pl_stats`` holds the kept PLs' ``tp`` / ``num_pred`` / ``num_gt``
    against the hidden novel boxes, for ``PseudoLabelQualityHook``.
    """

    def __init__(self, *args, novel_classes: Sequence[str] = (),
                 burn_in_iters: int = 500, pl_score_thr: float = 0.9,
                 mining: bool = True, mining_thr: float = 0.9,
                 mining_vlm_weight: float = 0.5, reweight: bool = True,
                 strong_view: bool = True,
                 strong_view_key: str = 'strong_inputs', **kwargs):
        super().__init__(*args, **kwargs)
        names = getattr(self.roi_head.classifier, 'class_names', None)
        if novel_classes and names is None:
            raise ValueError('MarvelOVD: novel_classes need a classifier with '
                             'class_names (TextEmbeddingClassifier)')
        unknown = [n for n in novel_classes if n not in (names or [])]
        if unknown:
            raise ValueError(f'MarvelOVD: novel_classes {unknown} are not in '
                             f'the classifier class_names {names}')
        self.register_buffer('novel_labels', torch.tensor(
            [names.index(n) for n in novel_classes], dtype=torch.long),
            persistent=False)
        self.burn_in_iters, self.pl_score_thr = burn_in_iters, pl_score_thr
        self.mining, self.mining_thr = mining, mining_thr
        self.mining_vlm_weight = mining_vlm_weight
        self.reweight, self.strong_view = reweight, strong_view
        self.strong_view_key = strong_view_key
        self.mining_stats: Dict[str, float] = {}
        self.pl_stats: Dict[str, int] = {}

    # -------------------------------------------------------- box selection
    @torch.no_grad()
    def select_boxes(self, feats: Dict[str, torch.Tensor],
                     batch_gt: List[InstanceData],
                     burn_in: bool) -> List[InstanceData]:
        """Base GT plus the PLs used this iteration; a PL's ``scores``
        become its s (the VLM score without mining)."""
        selected, num_given, kept_scores = [], 0, []
        num_pl = sum(int(gt.pl_flags.sum()) for gt in batch_gt
                     if 'pl_flags' in gt)
        use_mining = self.mining and not burn_in and num_pl > 0
        if use_mining:
            pl_boxes = [gt.bboxes[gt.pl_flags] for gt in batch_gt]
            probs = self.roi_forward(feats, pl_boxes).cls_logits.softmax(-1)
            novelty = probs[:, self.novel_labels].sum(1).split(
                [len(b) for b in pl_boxes])
        for i, gt in enumerate(batch_gt):
            if 'pl_flags' not in gt:
                selected.append(gt)
                continue
            scores = gt.scores.clone()
            is_pl = gt.pl_flags.bool()
            num_given += int(is_pl.sum())
            if use_mining:
                scores[is_pl] = mining_scores(scores[is_pl], novelty[i],
                                              self.mining_vlm_weight)
                keep = ~is_pl | (scores >= self.mining_thr)
            else:
                keep = ~is_pl | (scores >= self.pl_score_thr)
            kept = gt[keep]
            kept.scores = scores[keep]
            kept_scores.append(kept.scores[kept.pl_flags.bool()])
            selected.append(kept)
        kept_scores = torch.cat(kept_scores) if kept_scores else torch.zeros(0)
        self.mining_stats = dict(
            pl_given=float(num_given), pl_kept=float(kept_scores.numel()),
            pl_mean_s=float(kept_scores.mean()) if kept_scores.numel() else 0.)
        return selected

    # --------------------------------------------------------------- losses
    def _view_losses(self, inputs, feats, data_samples, batch_gt,
                     roi_targets=None, reweight=False):
        """RPN and RoI losses of one view; the RoIs are sampled on the first
        view and reused on the second (same geometry)."""
        samples = [DetDataSample(metainfo=s.metainfo,
                                 gt_instances=InstanceData(bboxes=g.bboxes))
                   for s, g in zip(data_samples, batch_gt)]
        rpn_out = self.rpn_proposals(inputs, feats, samples, with_loss=True)
        roi_feats = self.roi_adapter(feats)
        if roi_targets is None:
            roi_targets = self.roi_head.assign_and_sample(rpn_out.proposals,
                                                          batch_gt)
        output = self.roi_head(roi_feats, roi_targets.proposals)
        if reweight:
            roi_targets.label_weights = self._adaptive_label_weights(
                output, roi_targets, batch_gt)
        losses = {**rpn_out.losses,
                  **self.roi_head.loss_by_output(output, roi_targets)}
        return losses, roi_targets

    @torch.no_grad()
    def _adaptive_label_weights(self, output, targets, batch_gt) -> torch.Tensor:
        background = output.cls_logits.softmax(-1)[:, -1]
        weights = targets.label_weights.clone()
        start = 0
        for proposals, gt in zip(targets.proposals, batch_gt):
            rows = slice(start, start + proposals.shape[0])
            start += proposals.shape[0]
            if 'pl_flags' not in gt or len(gt) == 0:
                continue
            matched = targets.matched_gt_idx[rows]
            on_pl = (matched >= 0) & gt.pl_flags[matched.clamp(min=0)]
            s = gt.scores[matched.clamp(min=0)]
            weights[rows] = torch.where(
                on_pl, adaptive_weights(background[rows], s), weights[rows])
        return weights

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DetDataSample]) -> Dict[str, torch.Tensor]:
        burn_in = current_iter() < self.burn_in_iters
        feats = self.extract_feat(inputs)
        batch_gt = self.select_boxes(feats, [s.gt_instances
                                             for s in data_samples], burn_in)
        losses, targets = self._view_losses(
            inputs, feats, data_samples, batch_gt,
            reweight=self.reweight and not burn_in)
        if self.strong_view:
            strong = self.strong_inputs(data_samples)
            strong_losses, _ = self._view_losses(
                strong, self.extract_feat(strong), data_samples, batch_gt,
                roi_targets=targets)
            losses = {k: (v + strong_losses[k]) / 2 for k, v in losses.items()}
        losses.update({k: inputs.new_tensor(v)
                       for k, v in self.mining_stats.items()})
        self.record_pl_quality(data_samples, batch_gt)
        return losses

    @torch.no_grad()
    def record_pl_quality(self, data_samples: List[DetDataSample],
                          batch_gt: List[InstanceData]) -> None:
        """Add the kept PLs vs hidden novel boxes to ``self.pl_stats``."""
        for sample, gt in zip(data_samples, batch_gt):
            if 'hidden_instances' not in sample or 'pl_flags' not in gt:
                continue
            hidden = sample.hidden_instances
            novel = torch.isin(hidden.labels, self.novel_labels.to(
                hidden.labels.device))
            add_pl_stats(self.pl_stats, gt[gt.pl_flags.bool()], hidden[novel])

    def strong_inputs(self, data_samples: List[DetDataSample]) -> torch.Tensor:
        """The strong views, normalised and padded like ``inputs``."""
        key = self.strong_view_key
        missing = [s.metainfo.get('img_path', i) for i, s in
                   enumerate(data_samples) if key not in s]
        if missing:
            raise ValueError(f'MarvelOVD(strong_view=True): data sample of '
                             f'{missing[0]} has no {key!r}; add the weak/strong '
                             'view transform to the train pipeline or set '
                             'model.strong_view=False')
        batch = self.data_preprocessor(
            dict(inputs=[s.get(key) for s in data_samples],
                 data_samples=data_samples), training=True)
        return batch['inputs']
