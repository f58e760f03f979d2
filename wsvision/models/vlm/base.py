"""The vision-language model (VLM) interface shared by every VLM backend.

A VLM maps image crops and text prompts into one embedding space:

- ``encode_image(crops) -> (N, D)`` and ``encode_text(prompts) -> (M, D)``,
  both L2-normalised, so ``image @ text.T`` are cosine similarities;
- ``class_embeddings(names)`` ensembles prompt templates per class name (the
  mean of the normalised template embeddings, normalised again), the text side
  of zero-shot classification and of open-vocabulary classifiers.

Backends are registered in ``wsvision.registry.ENCODERS`` (``MiniVLM``,
``HFCLIP``, ``OpenCLIP``). Every backend is frozen: its weights never train
inside a detector and it stays in eval mode.
"""
from abc import ABC, abstractmethod
from typing import List, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from ..encoders.base import check_texts

#: The prompt-template ensemble used for captions and zero-shot scoring.
PROMPT_TEMPLATES = (
    'a photo of a {}.',
    'a photo of the {}.',
    'a picture of a {}.',
    'an image of a {}.',
    'a product photo of a {}.',
    'a close-up photo of a {}.',
    'a photo of a small {}.',
    'a photo of a large {}.',
    'a colourful {}.',
    'a {} on a textured background.',
    'there is a {} in the scene.',
    'a cropped photo of a {}.',
)

Crops = Union[torch.Tensor, Sequence[torch.Tensor]]


def prepare_crops(crops: Crops, size: int) -> torch.Tensor:
    """Crops -> a (N, 3, size, size) float batch in [0, 1].

    ``crops`` is a (N, 3, H, W) tensor or a list of (3, h, w) tensors of any
    sizes; uint8 crops are scaled to [0, 1], float crops must already be in
    [0, 1]. Each crop is resized (bilinear) to ``size`` x ``size``.
    """
    if isinstance(crops, torch.Tensor):
        if crops.dim() != 4 or crops.shape[1] != 3:
            raise ValueError('encode_image expects crops of shape (N, 3, H, W), '
                             f'got {tuple(crops.shape)}')
        crops = list(crops)
    crops = list(crops)
    if not crops:
        raise ValueError('encode_image got no crops')
    batch = []
    for i, crop in enumerate(crops):
        if crop.dim() != 3 or crop.shape[0] != 3 or min(crop.shape[1:]) < 1:
            raise ValueError(f'crop {i} has shape {tuple(crop.shape)}, '
                             'expected (3, h, w) with h, w >= 1')
        crop = crop.float() / 255.0 if crop.dtype == torch.uint8 else crop.float()
        batch.append(F.interpolate(crop[None], size=(size, size),
                                   mode='bilinear', align_corners=False))
    return torch.cat(batch)


class VisionLanguageModel(nn.Module, ABC):
    """A frozen image-text encoder pair.

    Subclasses set ``embed_dim`` and ``image_size`` (the side crops are
    resized to) and implement ``_image_features`` / ``_text_features``;
    the public methods normalise and never build a graph.
    """

    embed_dim: int
    image_size: int

    def freeze(self) -> None:
        """No weight trains, and eval mode for good (see ``train``)."""
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True):
        return super().train(False)  # frozen: batch norm stays in eval mode

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @abstractmethod
    def _image_features(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) float in [0, 1] on ``self.device`` -> (N, D)."""

    @abstractmethod
    def _text_features(self, prompts: List[str]) -> torch.Tensor:
        """M prompts -> (M, D) on ``self.device``."""

    @torch.no_grad()
    def encode_image(self, crops: Crops) -> torch.Tensor:
        """Unit-norm embeddings (N, D) of N RGB crops (see ``prepare_crops``)."""
        images = prepare_crops(crops, self.image_size).to(self.device)
        return F.normalize(self._image_features(images).float(), dim=-1)

    @torch.no_grad()
    def encode_text(self, prompts: Sequence[str]) -> torch.Tensor:
        """Unit-norm embeddings (M, D) of M prompts."""
        return F.normalize(self._text_features(check_texts(prompts)).float(),
                           dim=-1)

    @torch.no_grad()
    def class_embeddings(self, class_names: Sequence[str],
                         templates: Sequence[str] = PROMPT_TEMPLATES
                         ) -> torch.Tensor:
        """(K, D) prompt-ensemble embeddings of K class names."""
        class_names = check_texts(class_names)
        templates = list(templates)
        prompts = [t.format(name) for name in class_names for t in templates]
        per_prompt = self.encode_text(prompts).view(len(class_names),
                                                    len(templates), -1)
        return F.normalize(per_prompt.mean(1), dim=-1)


def zero_shot_probs(image_embeds: torch.Tensor, class_embeds: torch.Tensor,
                    temperature: float) -> torch.Tensor:
    """Softmax over classes of cosine similarity / ``temperature``: (N, K)."""
    return (image_embeds @ class_embeds.t() / temperature).softmax(dim=-1)
