"""The Fast R-CNN stage of Faster R-CNN: RoIAlign, a two-layer box head, a
replaceable classifier and a box regressor.

The head is split into steps that a method can call on its own instead of
forking the head:

- ``forward(feats, proposals) -> RoIHeadOutput``: pooled RoI features, box-head
  features, class logits and box deltas for any boxes (a teacher's proposals,
  pseudo-boxes, ...).
- ``assign_and_sample(proposals, batch_gt_instances) -> RoITargets``: the
  config-built assigner labels the proposals, a balanced sampler picks the
  training RoIs, and per-proposal loss weights are filled in.
- ``loss_by_output(output, targets)``: weighted cross-entropy and smooth-L1.
- ``postprocess(output, img_shapes)``: per-class NMS to final detections.

Class K is background (the classifier's last column). Ground-truth instances
may carry optional per-box ``label_weights`` / ``bbox_weights`` (m,) fields;
proposals matched to a box inherit them (e.g. MarvelOVD's pseudo-label
reweighting, or PS-TTL's exclusion of uncertain boxes from the losses).
"""
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.structures import InstanceData
from torchvision.models.detection._utils import (BalancedPositiveNegativeSampler,
                                                 BoxCoder)
from torchvision.models.detection.faster_rcnn import TwoMLPHead
from torchvision.ops import (MultiScaleRoIAlign, batched_nms,
                             clip_boxes_to_image, remove_small_boxes)

from ...registry import MODELS
from .assigners import AssignResult


@dataclass
class RoIHeadOutput:
    """RoI-head outputs for N = sum_i n_i boxes of a batch.

    proposals: per image (n_i, 4) xyxy boxes the RoIs were pooled from.
    pooled_feats: (N, C, S, S) RoIAlign features.
    roi_feats: (N, D) box-head features (the classifier's input).
    cls_logits: (N, K + 1), background last.
    bbox_deltas: (N, 4) with class-agnostic regression, else (N, 4 K).
    """
    proposals: List[torch.Tensor]
    pooled_feats: torch.Tensor
    roi_feats: torch.Tensor
    cls_logits: torch.Tensor
    bbox_deltas: torch.Tensor

    @property
    def num_per_image(self) -> List[int]:
        return [p.shape[0] for p in self.proposals]


@dataclass
class RoITargets:
    """Sampled training RoIs of a batch and their targets (N = sum_i n_i).

    proposals: per image (n_i, 4) sampled boxes, positives first.
    labels: (N,) int64, 0..K-1 foreground, K background.
    matched_gt_idx: (N,) int64 index into the image's ``gt_instances``, -1
        where the RoI has no matched box (background).
    bbox_targets: (N, 4) encoded regression targets (zero for background).
    label_weights: (N,) weight of each RoI's cross-entropy term.
    bbox_weights: (N,) weight of each RoI's regression term (0 for background).
    """
    proposals: List[torch.Tensor]
    labels: torch.Tensor
    matched_gt_idx: torch.Tensor
    bbox_targets: torch.Tensor
    label_weights: torch.Tensor
    bbox_weights: torch.Tensor


@MODELS.register_module()
class StandardRoIHead(nn.Module):
    """Faster R-CNN box head on FPN levels.

    Args:
        num_classes: K foreground classes.
        in_channels: channels of the pyramid levels.
        featmap_names: pyramid levels RoIs are pooled from, finest first.
        featmap_strides: their strides; the first sets the input size from
            which the pooler infers each level's scale.
        roi_size: RoIAlign output side S.
        canonical_scale: box side mapped to level 4 by the FPN level rule
            ``floor(4 + log2(sqrt(area) / canonical_scale))`` (224 for
            ImageNet-sized inputs; smaller for small images).
        fc_channels: width D of the two fully connected layers.
        classifier: config of the ``roi_feats -> logits`` module; built with
            ``in_channels=D`` and ``num_classes=K``.
        assigner: config of the proposal assigner; built with ``num_classes``.
        num_samples, pos_fraction: RoIs sampled per image, and the largest
            share of foreground among them.
        add_gt_as_proposals: add the ground-truth boxes to the proposals in
            training, so every box has a perfectly aligned positive RoI.
        class_agnostic_reg: one box per RoI instead of one per class.
        bbox_reg_weights: (wx, wy, ww, wh) scaling of the encoded deltas.
        score_thr, nms_thr, max_per_img: detection post-processing.
    """

    def __init__(self, num_classes: int, in_channels: int,
                 featmap_names: Sequence[str], featmap_strides: Sequence[int],
                 roi_size: int = 7, sampling_ratio: int = 2,
                 canonical_scale: int = 224, fc_channels: int = 1024,
                 classifier: dict = dict(type='LinearClassifier'),
                 assigner: dict = dict(type='MaxIoUAssigner'),
                 num_samples: int = 512, pos_fraction: float = 0.25,
                 add_gt_as_proposals: bool = True,
                 class_agnostic_reg: bool = False,
                 bbox_reg_weights: Sequence[float] = (10., 10., 5., 5.),
                 score_thr: float = 0.05, nms_thr: float = 0.5,
                 max_per_img: int = 100):
        super().__init__()
        if len(featmap_names) != len(featmap_strides):
            raise ValueError(f'featmap_names {list(featmap_names)} and '
                             f'featmap_strides {list(featmap_strides)} differ '
                             'in length')
        self.num_classes = num_classes
        self.featmap_names = list(featmap_names)
        self.finest_stride = featmap_strides[0]
        self.roi_align = MultiScaleRoIAlign(
            self.featmap_names, roi_size, sampling_ratio,
            canonical_scale=canonical_scale)
        self.box_head = TwoMLPHead(in_channels * roi_size ** 2, fc_channels)
        self.classifier = MODELS.build(dict(
            classifier, in_channels=fc_channels, num_classes=num_classes))
        self.class_agnostic_reg = class_agnostic_reg
        self.bbox_regressor = nn.Linear(
            fc_channels, 4 if class_agnostic_reg else 4 * num_classes)
        nn.init.normal_(self.bbox_regressor.weight, std=0.001)
        nn.init.zeros_(self.bbox_regressor.bias)
        self.assigner = MODELS.build(dict(assigner, num_classes=num_classes))
        self.sampler = BalancedPositiveNegativeSampler(num_samples, pos_fraction)
        self.add_gt_as_proposals = add_gt_as_proposals
        self.box_coder = BoxCoder(tuple(bbox_reg_weights))
        self.score_thr, self.nms_thr = score_thr, nms_thr
        self.max_per_img = max_per_img

    # ---------------------------------------------------------------- forward
    def forward(self, feats: Dict[str, torch.Tensor],
                proposals: List[torch.Tensor]) -> RoIHeadOutput:
        """Run the head on per-image boxes (n_i, 4) in input-image pixels.

        feats: pyramid levels (B, C, h_l, w_l) by name.
        """
        finest = feats[self.featmap_names[0]]
        input_shape = (finest.shape[-2] * self.finest_stride,
                       finest.shape[-1] * self.finest_stride)
        pooled = self.roi_align(feats, proposals, [input_shape])
        roi_feats = self.box_head(pooled)
        return RoIHeadOutput(proposals, pooled, roi_feats,
                             self.classifier(roi_feats),
                             self.bbox_regressor(roi_feats))

    # --------------------------------------------------------------- training
    def assign_and_sample(self, proposals: List[torch.Tensor],
                          batch_gt_instances: List[InstanceData]) -> RoITargets:
        """Label the proposals with the assigner and sample the training RoIs."""
        if self.add_gt_as_proposals:
            proposals = [torch.cat([p, gt.bboxes.to(p)])
                         for p, gt in zip(proposals, batch_gt_instances)]
        assignments = [self.assigner.assign(p, gt)
                       for p, gt in zip(proposals, batch_gt_instances)]
        # The sampler's convention: 1 foreground, 0 background, -1 ignored.
        sampler_labels = [torch.where(a.labels == self.num_classes, 0,
                                      torch.where(a.labels >= 0, 1, -1))
                          for a in assignments]
        pos_masks, neg_masks = self.sampler(sampler_labels)
        per_image = [
            self._image_targets(p, gt, a, torch.cat([torch.where(pos)[0],
                                                     torch.where(neg)[0]]))
            for p, gt, a, pos, neg in zip(proposals, batch_gt_instances,
                                          assignments, pos_masks, neg_masks)]
        proposals = [t[0] for t in per_image]
        return RoITargets(proposals, *(torch.cat(field) for field in
                                       list(zip(*per_image))[1:]))

    def _image_targets(self, proposals: torch.Tensor, gt: InstanceData,
                       assignment: AssignResult, keep: torch.Tensor) -> Tuple:
        """Targets of one image's sampled RoIs (``keep`` indexes ``proposals``)."""
        proposals = proposals[keep]
        labels = assignment.labels[keep]
        matched = assignment.matched_gt_idx[keep]
        has_box = (labels < self.num_classes) & (matched >= 0)
        matched = torch.where(has_box, matched, -1)
        gt_index = matched.clamp(min=0)
        label_weights = torch.ones_like(proposals[:, 0])
        bbox_weights = has_box.to(proposals.dtype)
        bbox_targets = torch.zeros_like(proposals)
        if len(gt) > 0:
            if 'label_weights' in gt:
                label_weights = torch.where(
                    has_box, gt.label_weights.to(proposals)[gt_index],
                    label_weights)
            if 'bbox_weights' in gt:
                bbox_weights = bbox_weights * gt.bbox_weights.to(proposals)[gt_index]
            bbox_targets = torch.where(
                has_box[:, None],
                self.box_coder.encode_single(gt.bboxes.to(proposals)[gt_index],
                                             proposals),
                bbox_targets)
        return (proposals, labels, matched, bbox_targets, label_weights,
                bbox_weights)

    def loss_by_output(self, output: RoIHeadOutput,
                       targets: RoITargets) -> Dict[str, torch.Tensor]:
        """Weighted cross-entropy and smooth-L1, both averaged over the RoIs."""
        num_rois = max(targets.labels.numel(), 1)
        cross_entropy = F.cross_entropy(output.cls_logits, targets.labels,
                                        reduction='none')
        loss_cls = (cross_entropy * targets.label_weights).sum() / num_rois
        deltas = output.bbox_deltas
        if not self.class_agnostic_reg:
            # Regress with the deltas of the RoI's own class; background rows
            # have zero weight, so their (clamped) class does not matter.
            rows = torch.arange(deltas.shape[0], device=deltas.device)
            deltas = deltas.view(-1, self.num_classes, 4)[
                rows, targets.labels.clamp(max=self.num_classes - 1)]
        smooth_l1 = F.smooth_l1_loss(deltas, targets.bbox_targets,
                                     beta=1 / 9, reduction='none').sum(dim=1)
        loss_bbox = (smooth_l1 * targets.bbox_weights).sum() / num_rois
        return dict(loss_cls=loss_cls, loss_bbox=loss_bbox)

    def loss(self, feats: Dict[str, torch.Tensor],
             proposals: List[torch.Tensor],
             batch_gt_instances: List[InstanceData]
             ) -> Tuple[Dict[str, torch.Tensor], RoIHeadOutput, RoITargets]:
        """Assign, sample, run the head on the sampled RoIs and compute losses.

        Returns the losses together with the head output and the targets, so
        that a method can add its own terms on the same RoIs.
        """
        targets = self.assign_and_sample(proposals, batch_gt_instances)
        output = self.forward(feats, targets.proposals)
        return self.loss_by_output(output, targets), output, targets

    # -------------------------------------------------------------- inference
    def postprocess(self, output: RoIHeadOutput,
                    img_shapes: List[Tuple[int, int]]) -> List[InstanceData]:
        """Per-image detections: ``bboxes`` (d, 4) in input-image pixels,
        ``scores`` (d,), ``labels`` (d,) int64, after score threshold and
        per-class NMS; ``img_shapes`` are the unpadded (h, w) to clip to."""
        probs = F.softmax(output.cls_logits, dim=-1)
        results = []
        for proposals, probs_i, deltas, img_shape in zip(
                output.proposals, probs.split(output.num_per_image),
                output.bbox_deltas.split(output.num_per_image), img_shapes):
            num_boxes = deltas.shape[1] // 4
            boxes = self.box_coder.decode_single(
                deltas.reshape(-1, 4),
                proposals.repeat_interleave(num_boxes, dim=0))
            boxes = clip_boxes_to_image(boxes, img_shape).view(-1, num_boxes, 4)
            scores = probs_i[:, :self.num_classes]
            boxes = boxes.expand(-1, self.num_classes, -1).reshape(-1, 4)
            labels = torch.arange(self.num_classes,
                                  device=scores.device).repeat(scores.shape[0])
            scores = scores.reshape(-1)
            keep = torch.where(scores > self.score_thr)[0]
            keep = keep[remove_small_boxes(boxes[keep], 1e-2)]
            keep = keep[batched_nms(boxes[keep], scores[keep], labels[keep],
                                    self.nms_thr)][:self.max_per_img]
            results.append(InstanceData(bboxes=boxes[keep], scores=scores[keep],
                                        labels=labels[keep]))
        return results

    def predict(self, feats: Dict[str, torch.Tensor],
                proposals: List[torch.Tensor],
                img_shapes: List[Tuple[int, int]]) -> List[InstanceData]:
        return self.postprocess(self.forward(feats, proposals), img_shapes)
