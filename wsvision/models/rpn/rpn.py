"""Region proposal network built from torchvision's detection blocks.

torchvision's ``RegionProposalNetwork.forward`` returns the proposal boxes
only and computes losses only in training mode. Methods built on wsvision
need the objectness of every proposal too (WSCoL's background-uncertainty
estimate thresholds it) and a teacher in eval mode must still produce
proposals, so ``RPN.forward`` composes the same torchvision steps (anchors,
decoding, ``filter_proposals``, ``assign_targets_to_anchors``,
``compute_loss``) and returns a typed ``RPNOutput``.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import torch
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.rpn import (RegionProposalNetwork, RPNHead,
                                              concat_box_prediction_layers)

from ...registry import MODELS


@dataclass
class RPNOutput:
    """Proposals of one batch.

    proposals: per image (n_i, 4) xyxy boxes in input-image pixels, sorted by
        objectness within each pyramid level.
    scores: per image (n_i,) objectness probabilities in [0, 1].
    losses: ``loss_rpn_cls`` and ``loss_rpn_bbox`` when targets were given,
        else empty.
    """
    proposals: List[torch.Tensor]
    scores: List[torch.Tensor]
    losses: Dict[str, torch.Tensor] = field(default_factory=dict)


@MODELS.register_module()
class RPN(RegionProposalNetwork):
    """Anchor-based RPN: one shared 3x3 conv head over every pyramid level.

    Args:
        in_channels: channels of every pyramid level.
        anchor_sizes: anchor side lengths (pixels), one tuple per level,
            finest level first.
        aspect_ratios: height / width ratios, shared by every level.
        fg_iou_thr, bg_iou_thr: anchors with IoU >= fg_iou_thr to a ground
            truth box are positives, those below bg_iou_thr negatives.
        num_samples, pos_fraction: anchors sampled per image for the loss,
            and the largest share of positives among them.
        pre_nms_top_n, post_nms_top_n: ``dict(train=..., test=...)``: proposals
            kept per level before NMS and per image after it.
        nms_thr: IoU of the per-level NMS.
    """

    def __init__(self, in_channels: int,
                 anchor_sizes: Sequence[Sequence[int]] = ((32,), (64,), (128,),
                                                          (256,), (512,)),
                 aspect_ratios: Sequence[float] = (0.5, 1.0, 2.0),
                 fg_iou_thr: float = 0.7, bg_iou_thr: float = 0.3,
                 num_samples: int = 256, pos_fraction: float = 0.5,
                 pre_nms_top_n: Optional[dict] = None,
                 post_nms_top_n: Optional[dict] = None,
                 nms_thr: float = 0.7):
        pre_nms_top_n = pre_nms_top_n or dict(train=2000, test=1000)
        post_nms_top_n = post_nms_top_n or dict(train=2000, test=1000)
        anchor_generator = AnchorGenerator(
            tuple(tuple(s) for s in anchor_sizes),
            (tuple(aspect_ratios),) * len(anchor_sizes))
        head = RPNHead(in_channels,
                       anchor_generator.num_anchors_per_location()[0])
        super().__init__(
            anchor_generator, head, fg_iou_thr, bg_iou_thr, num_samples,
            pos_fraction,
            dict(training=pre_nms_top_n['train'], testing=pre_nms_top_n['test']),
            dict(training=post_nms_top_n['train'],
                 testing=post_nms_top_n['test']),
            nms_thr)
        self.num_levels = len(anchor_sizes)

    def forward(self, images: ImageList, features: Dict[str, torch.Tensor],
                gt_bboxes: Optional[List[torch.Tensor]] = None) -> RPNOutput:
        """Propose boxes, and compute the RPN losses when ``gt_bboxes`` is given.

        Args:
            images: the padded batch (B, 3, H, W) and each image's unpadded
                (h, w), which the proposals are clipped to.
            features: pyramid levels (B, C, h_l, w_l), finest first; every
                level is used.
            gt_bboxes: per image (m_i, 4) xyxy ground-truth boxes.
        """
        feature_maps = list(features.values())
        if len(feature_maps) != self.num_levels:
            raise ValueError(f'RPN has anchor sizes for {self.num_levels} '
                             f'levels but got {len(feature_maps)} feature maps '
                             f'({list(features)})')
        objectness, deltas = self.head(feature_maps)
        anchors = self.anchor_generator(images, feature_maps)
        num_anchors_per_level = [o[0].numel() for o in objectness]
        objectness, deltas = concat_box_prediction_layers(objectness, deltas)
        # Faster R-CNN does not back-propagate through the proposal boxes.
        proposals = self.box_coder.decode(deltas.detach(), anchors)
        proposals = proposals.view(len(anchors), -1, 4)
        boxes, scores = self.filter_proposals(
            proposals, objectness, images.image_sizes, num_anchors_per_level)
        output = RPNOutput(boxes, scores)
        if gt_bboxes is not None:
            labels, matched_gt_boxes = self.assign_targets_to_anchors(
                anchors, [dict(boxes=b) for b in gt_bboxes])
            regression_targets = self.box_coder.encode(matched_gt_boxes, anchors)
            loss_cls, loss_bbox = self.compute_loss(
                objectness, deltas, labels, regression_targets)
            output.losses = dict(loss_rpn_cls=loss_cls, loss_rpn_bbox=loss_bbox)
        return output
