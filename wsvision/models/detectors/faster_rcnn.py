"""Faster R-CNN (Ren et al., NeurIPS 2015) with a feature pyramid.

The detector is an MMEngine model (``TaskModel``): ``forward(inputs, data_samples,
mode)`` with ``mode`` in ``'loss'``, ``'predict'`` or ``'tensor'``. Its stages
are public so that methods built on it (mean teachers, prototype losses,
pseudo-label mining) call them directly:

- ``extract_feat(inputs)``: backbone + neck -> named pyramid levels.
- ``rpn_proposals(inputs, feats, data_samples)`` -> ``RPNOutput`` (boxes,
  objectness and, on request, RPN losses).
- ``roi_forward(feats, proposals)`` -> ``RoIHeadOutput`` (RoI features,
  logits, deltas) for any boxes.

Optional ``rpn_adapter`` / ``roi_adapter`` modules map the pyramid features
before the RPN and the RoI head respectively (dict -> dict): the place for
gradient-decoupled layers (DeFRCN) between the backbone and each head.
"""
from typing import Dict, List, Mapping, Optional, Tuple

import torch
import torch.nn as nn
from torchvision.models.detection.image_list import ImageList
from torchvision.ops import clip_boxes_to_image

from ...registry import MODELS
from ...structures import DetDataSample
from ..base_model import TaskModel
from ..roi_heads import RoIHeadOutput
from ..rpn import RPNOutput


@MODELS.register_module()
class FasterRCNN(TaskModel):
    """Backbone, FPN neck, RPN and RoI head.

    Args:
        backbone: returns a tuple of stage features.
        neck: maps them to an ordered dict of pyramid levels.
        rpn: an ``RPN`` config; uses every pyramid level.
        roi_head: a ``StandardRoIHead`` config.
        rpn_adapter, roi_adapter: optional feature adapters (see module doc).
        data_preprocessor: normalises and pads the batch (e.g. MMEngine's
            ``ImgDataPreprocessor`` with ``pad_size_divisor=32``).

    Every data sample carries ``img_shape`` (the unpadded (h, w) of its input);
    ``predict`` also needs ``ori_shape`` and ``scale_factor`` (w_scale,
    h_scale) to map boxes back to the original image.
    """

    def __init__(self, backbone: dict, neck: dict, rpn: dict, roi_head: dict,
                 rpn_adapter: Optional[dict] = None,
                 roi_adapter: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None, init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck)
        self.rpn = MODELS.build(rpn)
        self.roi_head = MODELS.build(roi_head)
        self.rpn_adapter = build_adapter(rpn_adapter)
        self.roi_adapter = build_adapter(roi_adapter)

    def extract_feat(self, inputs: torch.Tensor) -> Dict[str, torch.Tensor]:
        """inputs (B, 3, H, W) -> pyramid levels {name: (B, C, h_l, w_l)}."""
        return self.neck(self.backbone(inputs))

    def rpn_proposals(self, inputs: torch.Tensor,
                      feats: Dict[str, torch.Tensor],
                      data_samples: Optional[List[DetDataSample]] = None,
                      with_loss: bool = False) -> RPNOutput:
        """Proposals for the batch; with ``with_loss`` also the RPN losses on
        each sample's ``gt_instances.bboxes``."""
        images = ImageList(inputs, img_shapes(inputs, data_samples))
        gt_bboxes = ([s.gt_instances.bboxes for s in data_samples]
                     if with_loss else None)
        return self.rpn(images, self.rpn_adapter(feats), gt_bboxes)

    def roi_forward(self, feats: Dict[str, torch.Tensor],
                    proposals: List[torch.Tensor]) -> RoIHeadOutput:
        """RoI-head outputs for per-image boxes (n_i, 4) in input pixels."""
        return self.roi_head(self.roi_adapter(feats), proposals)

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DetDataSample]) -> Dict[str, torch.Tensor]:
        feats = self.extract_feat(inputs)
        rpn_output = self.rpn_proposals(inputs, feats, data_samples,
                                        with_loss=True)
        roi_losses, _, _ = self.roi_head.loss(
            self.roi_adapter(feats), rpn_output.proposals,
            [s.gt_instances for s in data_samples])
        return {**rpn_output.losses, **roi_losses}

    def predict(self, inputs: torch.Tensor, data_samples: List[DetDataSample],
                rescale: bool = True) -> List[DetDataSample]:
        """Set ``pred_instances`` (bboxes, scores, labels) on each sample, in
        original-image pixels when ``rescale`` else in input pixels."""
        return self.set_predictions(data_samples, self.detect(inputs, data_samples)[1],
                                    rescale)

    def detect(self, inputs: torch.Tensor, data_samples: List[DetDataSample]):
        """(feats, detections): the pyramid features and each image's
        ``InstanceData`` (bboxes in input pixels, scores, labels)."""
        feats = self.extract_feat(inputs)
        proposals = self.rpn_proposals(inputs, feats, data_samples).proposals
        detections = self.roi_head.predict(
            self.roi_adapter(feats), proposals, img_shapes(inputs, data_samples))
        return feats, detections

    @staticmethod
    def set_predictions(data_samples: List[DetDataSample], detections,
                        rescale: bool) -> List[DetDataSample]:
        """Store ``detections`` as ``pred_instances``, in original-image
        pixels when ``rescale``."""
        for sample, instances in zip(data_samples, detections):
            if rescale:
                instances.bboxes = to_original_image(instances.bboxes,
                                                     sample.metainfo)
            sample.pred_instances = instances
        return data_samples

    def tensor_forward(self, inputs: torch.Tensor,
                 data_samples: Optional[List[DetDataSample]] = None
                 ) -> RoIHeadOutput:
        feats = self.extract_feat(inputs)
        proposals = self.rpn_proposals(inputs, feats, data_samples).proposals
        return self.roi_forward(feats, proposals)



def build_adapter(cfg: Optional[dict]) -> nn.Module:
    """A feature adapter from its config; the identity without one."""
    return MODELS.build(cfg) if cfg else nn.Identity()


def img_shapes(inputs: torch.Tensor,
               data_samples: Optional[List[DetDataSample]]) -> List[Tuple[int, int]]:
    """Unpadded (h, w) of each image: ``img_shape`` from the samples, else the
    padded batch size."""
    if data_samples is None:
        return [tuple(inputs.shape[-2:])] * inputs.shape[0]
    return [tuple(s.metainfo['img_shape'][:2]) for s in data_samples]


def to_original_image(bboxes: torch.Tensor, meta: Mapping) -> torch.Tensor:
    """(n, 4) xyxy boxes in input pixels -> original-image pixels, clipped.

    ``meta``: a sample's metainfo with ``scale_factor`` (w_scale, h_scale) and
    ``ori_shape`` (h, w).
    """
    for key in ('scale_factor', 'ori_shape'):
        if key not in meta:
            raise ValueError(f'data sample of {meta.get("img_path", "?")} has '
                             f'no {key!r} metainfo, needed to map boxes to the '
                             'original image')
    w_scale, h_scale = meta['scale_factor']
    bboxes = bboxes / bboxes.new_tensor([w_scale, h_scale, w_scale, h_scale])
    return clip_boxes_to_image(bboxes, tuple(meta['ori_shape'][:2]))
