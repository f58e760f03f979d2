"""PS-TTL: few-shot detection with prototype soft labels and test-time
learning (ACM MM 2024; methods.md section 3).

Two parts live here:

- ``GradientDecoupledLayer`` (DeFRCN): a per-channel affine map between the
  backbone and a head whose backward pass scales the gradient reaching the
  backbone by ``grad_scale`` (0 for the RPN, 0.001 for the RoI head when
  fine-tuning). It plugs into ``FasterRCNN`` as ``rpn_adapter`` /
  ``roi_adapter``.
- ``PSTTL``: a mean teacher over a fine-tuned detector, trained by
  ``TestTimeLearningLoop`` (``wsvision/engine/loops``) on one pass over the
  unlabelled test stream. Per iteration (methods.md section 3):

  1. the teacher detects on the weak view; ``split_pseudo_labels`` keeps
     score >= 0.9 as hard labels and 0.5 <= score < 0.9, after NMS at 0.5
     against the hard boxes and each other, as uncertain boxes;
  2. the student, on the strong view, gets RPN objectness and RoI
     cross-entropy on the hard labels; RoIs matched to uncertain boxes are
     left out of the cross-entropy (label weight 0) and get instead
     ``KL(soft || student)`` with ``soft = softmax(10 * cos(f, prototypes))``
     (weight 0.1); no box regression on pseudo-labels; every pseudo-label
     loss is scaled by 0.5;
  3. teacher RoI features (weak view) of the RoIs matched to hard labels are
     pushed into per-class FIFO queues (128 each, all-gathered over the DDP
     ranks), and each prototype becomes ``0.5 * old + 0.5 * queue mean``;
  4. the K-shot supervised loss (samples whose metainfo has
     ``labelled=True``) is added to the total (the reference computes it
     and then drops it).

  Prototypes start from the teacher's RoI features of the K-shot ground-truth
  boxes on the **weak** view (``add_prototype_features`` then
  ``reset_prototypes``; the reference wrongly used the strong view).
"""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.structures import InstanceData
from torchvision.ops import box_iou

from ...registry import MODELS
from ...structures import DetDataSample
from ..teacher_student import (ClassFeatureQueue, MeanTeacherModel,
                               add_pl_stats, split_pseudo_labels)
from .faster_rcnn import img_shapes

#: Counts of the soft labels' accuracy on uncertain boxes (logging only).
SOFT_STAT_KEYS = ('unc_matched', 'unc_teacher_correct', 'unc_soft_correct')


class _ScaleGradient(torch.autograd.Function):
    """Identity forward; backward multiplies the gradient by ``scale``."""

    @staticmethod
    def forward(ctx, x, scale: float):
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.scale, None


@MODELS.register_module()
class GradientDecoupledLayer(nn.Module):
    """DeFRCN's gradient-decoupled layer on every pyramid level.

    Forward: ``y = a * x + b`` per channel (initialised to the identity).
    Backward: the gradient reaching the backbone (``x``) is multiplied by
    ``grad_scale``; the affine parameters get their full gradient.

    Args:
        in_channels: channels C of the pyramid levels.
        grad_scale: 0 stops the head's gradient into the backbone, 1 keeps it.
    """

    def __init__(self, in_channels: int, grad_scale: float):
        super().__init__()
        if grad_scale < 0:
            raise ValueError(f'grad_scale must be >= 0, got {grad_scale}')
        self.grad_scale = float(grad_scale)
        self.weight = nn.Parameter(torch.ones(1, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, in_channels, 1, 1))

    def forward(self, feats: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """feats: {level: (B, C, h, w)} -> same shapes."""
        return {name: _ScaleGradient.apply(feat, self.grad_scale) * self.weight
                + self.bias for name, feat in feats.items()}


def prototype_soft_labels(feats: torch.Tensor, prototypes: torch.Tensor,
                          temperature: float = 10.0) -> torch.Tensor:
    """Soft labels ``softmax(temperature * cos(f, p_k))`` over the K classes.

    feats: (N, D) RoI features; prototypes: (K, D). Returns (N, K). A zero
    prototype (a class never seen) has cosine 0 with everything.
    """
    cosine = F.normalize(feats, dim=1) @ F.normalize(prototypes, dim=1).t()
    return F.softmax(temperature * cosine, dim=1)


def soft_label_kl(cls_logits: torch.Tensor,
                  soft_labels: torch.Tensor) -> torch.Tensor:
    """``KL(soft || student)`` averaged over the RoIs.

    cls_logits: (N, K + 1) student logits (background last); soft_labels:
    (N, K), which give the background probability 0.
    """
    num_classes = soft_labels.shape[1]
    log_probs = F.log_softmax(cls_logits, dim=1)[:, :num_classes]
    return F.kl_div(log_probs, soft_labels, reduction='sum') / max(
        cls_logits.shape[0], 1)


def updated_prototypes(prototypes: torch.Tensor, queue_means: torch.Tensor,
                       has_features: torch.Tensor,
                       momentum: float = 0.5) -> torch.Tensor:
    """``momentum * old + (1 - momentum) * queue mean`` for the classes whose
    queue holds features (``has_features`` (K,) bool); the others keep their
    prototype. prototypes, queue_means: (K, D)."""
    blended = momentum * prototypes + (1.0 - momentum) * queue_means
    return torch.where(has_features[:, None], blended, prototypes)


def _rows_matched_to(targets, flags: List[torch.Tensor]) -> torch.Tensor:
    """(N,) bool: sampled RoIs whose matched box has its per-image ``flags``
    (m_i,) bool set."""
    rows = []
    for matched, image_flags in zip(
            targets.matched_gt_idx.split([len(p) for p in targets.proposals]),
            flags):
        hit = matched >= 0
        if len(image_flags):
            hit = hit & image_flags[matched.clamp(min=0)]
        rows.append(hit)
    return torch.cat(rows)


@MODELS.register_module()
class PSTTL(MeanTeacherModel):
    """Mean-teacher test-time learning of a few-shot detector (module doc).

    Args:
        detector: ``FasterRCNN`` config (with gradient-decoupled adapters).
            A checkpoint of that detector (the fine-tuned model) loads
            into both student and teacher, e.g. through ``load_from`` or
            ``tools/test.py CONFIG CHECKPOINT``.
        hard_thr, uncertain_thr, nms_iou: pseudo-label bands.
        queue_size: features per class queue.
        temperature: the 10 of softmax(10 * cos).
        soft_label_weight: weight of the KL term (0 disables soft labels).
        pseudo_weight: scale of every pseudo-label loss.
        prototype_momentum: weight of the old prototype in its update.
        predict_with: 'teacher' or 'student' for ``predict``.
    """
    # Test-time learning rebuilds these from the K-shot set: a checkpoint of
    # the detector alone is complete.
    training_state_prefixes = ('prototypes', 'prototype_queue.')

    def __init__(self, detector: dict, hard_thr: float = 0.9,
                 uncertain_thr: float = 0.5, nms_iou: float = 0.5, queue_size: int = 128,
                 temperature: float = 10.0, soft_label_weight: float = 0.1,
                 pseudo_weight: float = 0.5, prototype_momentum: float = 0.5,
                 predict_with: str = 'teacher',
                 data_preprocessor: Optional[dict] = None, init_cfg=None):
        super().__init__(
            MODELS.build(detector),
            data_preprocessor=data_preprocessor or detector.get('data_preprocessor'),
            init_cfg=init_cfg)
        if predict_with not in ('teacher', 'student'):
            raise ValueError(f"predict_with must be 'teacher' or 'student', got "
                             f'{predict_with!r}')
        head = self.student.roi_head
        self.num_classes = head.num_classes
        feat_dim = head.bbox_regressor.in_features
        self.prototype_queue = ClassFeatureQueue(self.num_classes, feat_dim,
                                                 queue_size)
        self.register_buffer('prototypes',
                             torch.zeros(self.num_classes, feat_dim))
        self.hard_thr, self.uncertain_thr = hard_thr, uncertain_thr
        self.nms_iou, self.temperature = nms_iou, temperature
        self.soft_label_weight, self.pseudo_weight = soft_label_weight, pseudo_weight
        self.prototype_momentum = prototype_momentum
        self.predict_with = predict_with
        self.pl_stats: Dict[str, int] = {}

    # ------------------------------------------------------------- prototypes
    @torch.no_grad()
    def add_prototype_features(self, inputs: torch.Tensor,
                               data_samples: List[DetDataSample]) -> None:
        """Queue the teacher's RoI features of the ground-truth boxes of a
        K-shot batch (``inputs``: the weak view). Every DDP rank must call
        it equally often (the queue all-gathers)."""
        feats = self.teacher.extract_feat(inputs)
        boxes = [s.gt_instances.bboxes for s in data_samples]
        roi_feats = self.teacher.roi_forward(feats, boxes).roi_feats
        self.prototype_queue.push(
            roi_feats, torch.cat([s.gt_instances.labels for s in data_samples]))

    @torch.no_grad()
    def reset_prototypes(self) -> None:
        """Prototypes := the queue means (after the K-shot initialisation)."""
        self.prototypes.copy_(self.prototype_queue.means())

    @torch.no_grad()
    def _update_prototypes(self, feats: torch.Tensor,
                           labels: torch.Tensor) -> None:
        self.prototype_queue.push(feats, labels)
        self.prototypes.copy_(updated_prototypes(
            self.prototypes, self.prototype_queue.means(),
            self.prototype_queue.counts > 0, self.prototype_momentum))

    # ------------------------------------------------------------------ losses
    def loss(self, inputs: torch.Tensor,
             data_samples: List[DetDataSample]) -> Dict[str, torch.Tensor]:
        """K-shot supervised losses (``sup_*``) for samples with metainfo
        ``labelled=True`` plus pseudo-label losses (``*_pl``) for the others,
        which must carry ``strong_inputs`` (see ``WeakStrongViews``)."""
        labelled = [bool(s.metainfo.get('labelled', False)) for s in data_samples]
        shots = [i for i, flag in enumerate(labelled) if flag]
        stream = [i for i, flag in enumerate(labelled) if not flag]
        losses = {}
        if shots:
            sup = self.student.loss(inputs[shots], [data_samples[i] for i in shots])
            losses.update({f'sup_{k}': v for k, v in sup.items()})
        losses.update(self.pseudo_label_loss(
            inputs[stream], [data_samples[i] for i in stream]))
        return losses

    def _strong_view(self, weak: torch.Tensor,
                     data_samples: List[DetDataSample]) -> torch.Tensor:
        """Normalised strong images, padded like the weak batch."""
        for s in data_samples:
            if 'strong_inputs' not in s:
                raise KeyError(f'{s.metainfo.get("img_path", "data sample")} '
                               'has no strong_inputs; end the stream pipeline '
                               'with WeakStrongViews')
        strong = self.data_preprocessor(
            dict(inputs=[s.strong_inputs for s in data_samples]),
            training=True)['inputs']
        return F.pad(strong, (0, weak.shape[-1] - strong.shape[-1],
                              0, weak.shape[-2] - strong.shape[-2]))

    def _pseudo_labels(self, weak: torch.Tensor,
                       data_samples: List[DetDataSample]
                       ) -> Tuple[Dict[str, torch.Tensor], List[InstanceData]]:
        """Teacher detections on the weak view -> (teacher features, per image
        targets: hard then uncertain boxes with ``label_weights`` 1 / 0,
        ``bbox_weights`` 0 and an ``uncertain`` flag)."""
        with torch.no_grad():
            feats = self.teacher.extract_feat(weak)
            proposals = self.teacher.rpn_proposals(weak, feats,
                                                   data_samples).proposals
            detections = self.teacher.roi_head.predict(
                self.teacher.roi_adapter(feats), proposals,
                img_shapes(weak, data_samples))
        targets, uncertain_boxes = [], []
        for sample, det in zip(data_samples, detections):
            pls = split_pseudo_labels(det.bboxes, det.scores, det.labels,
                                      self.hard_thr, self.uncertain_thr,
                                      self.nms_iou)
            uncertain_boxes.append(pls.uncertain)
            if 'gt_instances' in sample:  # hidden annotations: logging only
                add_pl_stats(self.pl_stats, pls.hard, sample.gt_instances)
            num_hard, num_uncertain = len(pls.hard), len(pls.uncertain)
            uncertain = torch.cat([torch.zeros(num_hard, dtype=torch.bool),
                                   torch.ones(num_uncertain, dtype=torch.bool)]
                                  ).to(weak.device)
            targets.append(InstanceData(
                bboxes=torch.cat([pls.hard.bboxes, pls.uncertain.bboxes]),
                labels=torch.cat([pls.hard.labels, pls.uncertain.labels]),
                label_weights=(~uncertain).float(),
                bbox_weights=torch.zeros(len(uncertain), device=weak.device),
                uncertain=uncertain))
        if all('gt_instances' in sample for sample in data_samples):
            self._add_soft_label_stats(feats, uncertain_boxes, data_samples)
        return feats, targets

    @torch.no_grad()
    def _add_soft_label_stats(self, feats: Dict[str, torch.Tensor],
                              uncertain: List[InstanceData],
                              data_samples: List[DetDataSample]) -> None:
        """Logging only, against the hidden annotations: of the uncertain
        boxes that overlap a ground-truth box (IoU >= 0.5), how many the
        teacher's class (``unc_teacher_correct``) and the prototype soft
        label's most likely class (``unc_soft_correct``) get right, out of
        ``unc_matched``."""
        counts = dict.fromkeys(SOFT_STAT_KEYS, 0)
        roi_feats = self.teacher.roi_forward(
            feats, [u.bboxes for u in uncertain]).roi_feats
        soft_class = prototype_soft_labels(
            roi_feats, self.prototypes, self.temperature).argmax(1).split(
                [len(u) for u in uncertain])
        for boxes, soft, sample in zip(uncertain, soft_class, data_samples):
            gt = sample.gt_instances
            if len(boxes) == 0 or len(gt) == 0:
                continue
            iou, best = box_iou(boxes.bboxes, gt.bboxes.to(boxes.bboxes)).max(1)
            matched = iou >= 0.5
            truth = gt.labels.to(boxes.labels.device)[best]
            counts['unc_matched'] += int(matched.sum())
            counts['unc_teacher_correct'] += int((matched & (boxes.labels == truth)).sum())
            counts['unc_soft_correct'] += int((matched & (soft == truth)).sum())
        for key, value in counts.items():
            self.pl_stats[key] = self.pl_stats.get(key, 0) + value

    def pseudo_label_loss(self, weak: torch.Tensor,
                          data_samples: List[DetDataSample]
                          ) -> Dict[str, torch.Tensor]:
        """Pseudo-label losses of the unlabelled stream samples (steps 1-3 of
        the module doc). Updates queues and prototypes even for an empty
        batch, so that every DDP rank joins the all-gather."""
        if not data_samples:
            self._update_prototypes(
                self.prototypes.new_zeros(0, self.prototypes.shape[1]),
                torch.zeros(0, dtype=torch.long, device=self.prototypes.device))
            zero = sum(p.sum() for p in self.student.parameters()) * 0.0
            return dict(loss_rpn_cls_pl=zero, loss_cls_pl=zero, loss_soft_pl=zero)
        teacher_feats, targets = self._pseudo_labels(weak, data_samples)
        strong = self._strong_view(weak, data_samples)
        feats = self.student.extract_feat(strong)
        # The RPN learns objectness from the hard labels only.
        hard_samples = []
        for sample, target in zip(data_samples, targets):
            hard = DetDataSample(metainfo=sample.metainfo)
            hard.gt_instances = target[~target.uncertain]
            hard_samples.append(hard)
        rpn = self.student.rpn_proposals(strong, feats, hard_samples,
                                         with_loss=True)
        roi_losses, output, roi_targets = self.student.roi_head.loss(
            self.student.roi_adapter(feats), rpn.proposals, targets)
        is_uncertain = _rows_matched_to(roi_targets,
                                        [t.uncertain for t in targets])
        is_hard = _rows_matched_to(roi_targets,
                                   [~t.uncertain for t in targets])
        with torch.no_grad():
            # Prototype space: the teacher's box-head features, weak view.
            teacher_roi_feats = self.teacher.roi_forward(
                teacher_feats, roi_targets.proposals).roi_feats
            self._update_prototypes(teacher_roi_feats[is_hard],
                                    roi_targets.labels[is_hard])
            soft = prototype_soft_labels(teacher_roi_feats[is_uncertain],
                                         self.prototypes, self.temperature)
        loss_soft = soft_label_kl(output.cls_logits[is_uncertain], soft)
        return dict(
            loss_rpn_cls_pl=self.pseudo_weight * rpn.losses['loss_rpn_cls'],
            loss_cls_pl=self.pseudo_weight * roi_losses['loss_cls'],
            loss_soft_pl=self.pseudo_weight * self.soft_label_weight * loss_soft)

    # --------------------------------------------------------------- inference
    def _predictor(self) -> nn.Module:
        return self.teacher if self.predict_with == 'teacher' else self.student

    def predict(self, inputs: torch.Tensor, data_samples: List[DetDataSample],
                rescale: bool = True) -> List[DetDataSample]:
        return self._predictor().predict(inputs, data_samples, rescale)

    def tensor_forward(self, inputs: torch.Tensor, data_samples=None):
        return self._predictor().tensor_forward(inputs, data_samples)
