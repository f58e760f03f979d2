"""ConTEXTual Net 3D: segment the lesion that a report sentence refers to.

A MONAI DynUNet reads PET and CT; a frozen text encoder reads the sentence
(with its slice and SUV removed by the data set's leak guard); language
cross-attention gates the decoder. ``text_encoder=None`` gives the same
network without language, the no-text baseline.
"""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F

from ...registry import ENCODERS, MODELS
from ..base_model import TaskModel
from .dynunet_text import build_dynunet


@MODELS.register_module()
class ConTEXTualNet3D(TaskModel):
    """
    Args:
        filters, strides: DynUNet widths and strides per level (the paper:
            (64, 96, 128, 192, 256) and (1, 2, 2, 2, 2)).
        text_encoder: an ``ENCODERS`` config (frozen), or ``None`` for the
            no-text baseline.
        text_levels: decoder up-blocks gated by the text, deepest first.
        num_heads: attention heads per gate.
        roi_size: sliding-window size (X, Y, Z) for prediction.
        sw_batch_size: windows per forward pass in prediction.
        overlap: sliding-window overlap (the paper: 0.625, Gaussian blend).
        dice_weight, ce_weight: weights of the DiceCE loss terms.
        data_preprocessor: defaults to ``GroundingDataPreprocessor``.
    """

    # The frozen text encoder is loaded from its own pretrained files.
    pretrained_state_prefixes = ('text_encoder.',)

    def __init__(self, filters: Sequence[int] = (64, 96, 128, 192, 256),
                 strides: Sequence[int] = (1, 2, 2, 2, 2),
                 text_encoder: Optional[dict] = dict(type='HFTextEncoder'),
                 text_levels: int = 3, num_heads: int = 1,
                 roi_size: Sequence[int] = (96, 96, 96),
                 sw_batch_size: int = 2, overlap: float = 0.625,
                 dice_weight: float = 1.0, ce_weight: float = 1.0,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        # Built here from wsvision's registry, so that the model also builds
        # outside a runner whose default scope is 'wsvision'.
        super().__init__(data_preprocessor=MODELS.build(
            data_preprocessor or dict(type='GroundingDataPreprocessor')),
            init_cfg=init_cfg)
        self.text_encoder = (ENCODERS.build(text_encoder)
                             if text_encoder is not None else None)
        self.net = build_dynunet(
            filters, strides, in_channels=2, out_channels=2,
            text_dim=self.text_encoder.embed_dim if self.text_encoder else None,
            text_levels=text_levels, num_heads=num_heads)
        from monai.losses import DiceLoss
        # Dice on the lesion channel only, pooled over the batch: the
        # background channel is trivially near 1 and would hide the lesion.
        self.dice_loss = DiceLoss(to_onehot_y=True, softmax=True,
                                  include_background=False, batch=True)
        self.dice_weight, self.ce_weight = dice_weight, ce_weight
        self.roi_size = tuple(roi_size)
        self.sw_batch_size = sw_batch_size
        self.overlap = overlap

    @property
    def uses_text(self) -> bool:
        return self.text_encoder is not None

    def encode_text(self, data_samples):
        """(B, L, D) tokens and (B, L) mask of the samples' guarded text."""
        if not self.uses_text:
            return None, None
        if data_samples is None:
            raise ValueError('a text-conditioned model needs data_samples '
                             "with metainfo['text']")
        return self.text_encoder.encode_text(
            [sample.metainfo['text'] for sample in data_samples])

    def tensor_forward(self, inputs: torch.Tensor, data_samples=None):
        """inputs (B, 2, X, Y, Z) [PET, CT] in [0, 1] -> (B, 2, X, Y, Z) logits
        of one full-volume pass (``mode='predict'`` gives data samples with
        ``pred_mask`` (1, X, Y, Z) uint8, ``mode='loss'`` a dict of losses)."""
        return self.net(inputs, *self.encode_text(data_samples))

    def loss(self, inputs, data_samples) -> Dict[str, torch.Tensor]:
        tokens, token_mask = self.encode_text(data_samples)
        logits = self.net(inputs, tokens, token_mask)
        target = torch.stack([s.gt_mask for s in data_samples]).long()
        return dict(
            loss_dice=self.dice_weight * self.dice_loss(logits, target),
            loss_ce=self.ce_weight * F.cross_entropy(logits, target[:, 0]))

    @torch.no_grad()
    def predict(self, inputs, data_samples) -> List:
        from monai.inferers import sliding_window_inference
        tokens, token_mask = self.encode_text(data_samples)
        for i, sample in enumerate(data_samples):
            def predictor(windows, i=i):
                # One volume per call, so every window reads its own sentence.
                if not self.uses_text:
                    return self.net(windows)
                n = windows.shape[0]
                return self.net(windows, tokens[i:i + 1].expand(n, -1, -1),
                                token_mask[i:i + 1].expand(n, -1))
            logits = sliding_window_inference(
                inputs[i:i + 1], self.roi_size, self.sw_batch_size, predictor,
                overlap=self.overlap, mode='gaussian')
            sample.pred_mask = logits.argmax(1).to(torch.uint8)
        return data_samples
