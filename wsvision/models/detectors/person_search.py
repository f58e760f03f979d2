"""One-step person search: Faster R-CNN plus a re-identification embedding.

The detector is ``FasterRCNN`` unchanged (one class, ``person``); a
``ReIDEmbeddingHead`` maps the RoI head's pooled RoI features
(``pooled_feats``) to an L2-normalised embedding (128-256 d). In training,
the model gathers the embeddings of a batch into a ``ReIDBatch`` (the
positive RoIs, the ground-truth boxes and, when the loss asks for it, the
multi-scale exemplars encoded by the shared backbone) and adds the
config-built ``reid_loss`` to the detection losses: ``SSLLoss`` (boxes only)
or ``OIMLoss`` (identities, the upper bound). ``predict`` adds ``embeddings``
(d, D) to ``pred_instances`` and to ``gt_instances`` (the queries are
ground-truth boxes).
"""
from typing import Dict, List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...registry import MODELS
from ...structures import DetDataSample
from ..person_search import ReIDBatch
from .faster_rcnn import FasterRCNN


@MODELS.register_module()
class ReIDEmbeddingHead(nn.Module):
    """Pooled RoI features (N, C, S, S) -> L2-normalised embeddings (N, D).

    Its own layers: the detector's box head learns to call every person the
    same class, which is what re-identification must not do, so the
    embedding starts from the pooled features, not from the box head. With
    ``batch_norm``, a batch norm before the L2 normalisation (as in SeqNet)
    removes the direction shared by all embeddings (without it, every cosine
    similarity starts high); it is skipped for a single training row, whose
    batch statistics do not exist. Off by default: in short FashionScenes
    runs it made the OIM upper bound unstable.
    """

    def __init__(self, in_channels: int, roi_size: int = 7,
                 hidden_channels: int = 512, embed_dim: int = 128,
                 batch_norm: bool = False):
        super().__init__()
        if not 128 <= embed_dim <= 256:
            raise ValueError(f'embed_dim must lie in 128..256, got {embed_dim}')
        self.layers = nn.Sequential(
            nn.Flatten(), nn.Linear(in_channels * roi_size ** 2, hidden_channels),
            nn.ReLU(inplace=True), nn.Linear(hidden_channels, embed_dim))
        self.norm = nn.BatchNorm1d(embed_dim) if batch_norm else None
        self.embed_dim = embed_dim

    def forward(self, pooled_feats: torch.Tensor) -> torch.Tensor:
        embeds = self.layers(pooled_feats)
        if self.norm is not None and (not self.training or len(embeds) > 1):
            embeds = self.norm(embeds)
        return F.normalize(embeds, dim=1)


@MODELS.register_module()
class PersonSearchRCNN(FasterRCNN):
    """``FasterRCNN`` with a re-ID head and loss (see module docstring).

    Args:
        reid_head: a ``ReIDEmbeddingHead`` config; ``in_channels`` and
            ``roi_size`` default to the RoI head's pooled features.
        reid_loss: ``SSLLoss`` or ``OIMLoss`` config; ``embed_dim`` defaults
            to the head's.
        **kwargs: ``FasterRCNN`` arguments.

    Training samples need ``gt_instances.instance_ids`` (``LoadInstanceIds``
    + ``PackPersonSearchInputs``); ``person_ids`` when the loss reads
    identities; ``masks`` when the exemplars mask their background.
    """
    # The loss's memory banks / lookup table: training state only.
    training_state_prefixes = ('reid_loss.',)

    def __init__(self, reid_head: dict, reid_loss: dict, **kwargs):
        super().__init__(**kwargs)
        roi_size = self.roi_head.roi_align.output_size[0]
        in_channels = self.roi_head.box_head.fc6.in_features // roi_size ** 2
        self.reid_head = MODELS.build(dict(
            dict(in_channels=in_channels, roi_size=roi_size), **reid_head))
        self.reid_loss = MODELS.build(dict(
            dict(embed_dim=self.reid_head.embed_dim), **reid_loss))

    def pool(self, feats: Dict[str, torch.Tensor],
             boxes: List[torch.Tensor]) -> torch.Tensor:
        """Pooled RoI features (sum_i n_i, C, S, S) of per-image boxes."""
        return self.roi_forward(feats, boxes).pooled_feats

    def embed(self, feats: Dict[str, torch.Tensor],
              boxes: List[torch.Tensor]) -> torch.Tensor:
        """Embeddings (sum_i n_i, D) of per-image boxes (n_i, 4)."""
        return self.reid_head(self.pool(feats, boxes))

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DetDataSample]) -> Dict[str, torch.Tensor]:
        feats = self.extract_feat(inputs)
        rpn_output = self.rpn_proposals(inputs, feats, data_samples,
                                        with_loss=True)
        gts = [s.gt_instances for s in data_samples]
        roi_losses, output, targets = self.roi_head.loss(
            self.roi_adapter(feats), rpn_output.proposals, gts)
        batch = self.reid_batch(inputs, feats, gts, output, targets)
        return {**rpn_output.losses, **roi_losses, **self.reid_loss(batch)}

    def reid_batch(self, inputs, feats, gts, output, targets) -> ReIDBatch:
        """Collect the batch's embeddings for the re-ID loss."""
        missing = [i for i, gt in enumerate(gts) if 'instance_ids' not in gt]
        if missing:
            raise ValueError(f'training sample {missing[0]} has no '
                             'gt_instances.instance_ids: add LoadInstanceIds '
                             'and PackPersonSearchInputs to the pipeline')
        device = inputs.device
        counts = torch.tensor([len(gt) for gt in gts], device=device)
        first_gt = torch.cumsum(counts, 0) - counts
        roi_image = torch.repeat_interleave(
            torch.arange(len(gts), device=device),
            torch.tensor(output.num_per_image, device=device))
        positive = targets.matched_gt_idx >= 0
        gt_boxes = [gt.bboxes.to(device) for gt in gts]
        person_ids = (torch.cat([gt.person_ids for gt in gts]).to(device)
                      if all('person_ids' in gt for gt in gts) else None)
        # One pass through the head, so its batch norm sees every row.
        pooled = [output.pooled_feats[positive], self.pool(feats, gt_boxes)]
        if self.reid_loss.wants_exemplars:
            masks = ([gt.masks.to(device) for gt in gts]
                     if all('masks' in gt for gt in gts) else None)
            preprocessor = self.data_preprocessor
            pixel_stats = ((preprocessor.mean, preprocessor.std)
                           if getattr(preprocessor, '_enable_normalize', False)
                           else None)
            canvases, crop_boxes = self.reid_loss.exemplar_inputs(
                inputs, gt_boxes, masks, pixel_stats)
            pooled.append(self.pool(self.extract_feat(canvases),
                                    list(crop_boxes[:, None])))
        embeds = self.reid_head(torch.cat(pooled)).split(
            [len(p) for p in pooled])
        return ReIDBatch(
            roi_embeds=embeds[0],
            roi_gt=first_gt[roi_image[positive]] + targets.matched_gt_idx[positive],
            gt_embeds=embeds[1],
            gt_image=torch.repeat_interleave(
                torch.arange(len(gts), device=device), counts),
            gt_instance_ids=torch.cat([gt.instance_ids for gt in gts]).to(device),
            gt_person_ids=person_ids,
            exemplar_embeds=(embeds[2].view(int(counts.sum()), -1,
                                            self.reid_head.embed_dim)
                             if len(embeds) > 2 else None))

    def predict(self, inputs: torch.Tensor, data_samples: List[DetDataSample],
                rescale: bool = True) -> List[DetDataSample]:
        """Detections with ``embeddings`` (d, D); ground-truth boxes, when
        present, also get theirs. Boxes go to original-image pixels when
        ``rescale``."""
        feats, detections = self.detect(inputs, data_samples)
        det_embeds = self.embed(feats, [d.bboxes for d in detections]).split(
            [len(d) for d in detections])
        if any('gt_instances' in s for s in data_samples):
            # One (possibly empty) box list per image of the batch: RoI
            # pooling reads a box's image from its position in the list.
            gt_boxes = [s.gt_instances.bboxes.to(inputs.device)
                        if 'gt_instances' in s else inputs.new_zeros(0, 4)
                        for s in data_samples]
            for sample, embeds in zip(data_samples, self.embed(
                    feats, gt_boxes).split([len(b) for b in gt_boxes])):
                if 'gt_instances' in sample:
                    sample.gt_instances.embeddings = embeds
        for instances, embeds in zip(detections, det_embeds):
            instances.embeddings = embeds
        return self.set_predictions(data_samples, detections, rescale)

    def tensor_forward(self, inputs: torch.Tensor,
                       data_samples: Optional[List[DetDataSample]] = None):
        """The RoI-head outputs and the embeddings of the proposals."""
        feats = self.extract_feat(inputs)
        proposals = self.rpn_proposals(inputs, feats, data_samples).proposals
        output = self.roi_forward(feats, proposals)
        return output, self.reid_head(output.pooled_feats)
