"""CLIP-like VLMs read from local weights, never downloaded.

- ``HFCLIP``: a Hugging Face ``CLIPModel`` folder (``config.json``, weights,
  tokenizer files), e.g. a saved ``openai/clip-vit-base-patch32``.
- ``OpenCLIP``: an ``open_clip`` architecture name plus a local checkpoint
  file (needs ``pip install open_clip_torch``).

Crops are resized to the model's input side and normalised with its mean and
standard deviation (the CLIP defaults unless the folder says otherwise).
"""
import json
import os
from typing import List, Optional, Sequence

import torch

from ...registry import ENCODERS
from .base import VisionLanguageModel

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class _NormalisedCLIP(VisionLanguageModel):
    """Holds the input normalisation shared by the CLIP backends."""

    def _set_normalisation(self, mean: Sequence[float], std: Sequence[float]):
        self.register_buffer('pixel_mean', torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer('pixel_std', torch.tensor(std).view(1, 3, 1, 1))

    def _normalise(self, images: torch.Tensor) -> torch.Tensor:
        return (images - self.pixel_mean) / self.pixel_std


def projected(output) -> torch.Tensor:
    """The projected embeddings of ``get_*_features``: a tensor in
    transformers 4, the ``pooler_output`` of a model output in 5."""
    return output if isinstance(output, torch.Tensor) else output.pooler_output


@ENCODERS.register_module()
class HFCLIP(_NormalisedCLIP):
    """A transformers ``CLIPModel`` from a local folder.

    Args:
        path: folder saved by ``CLIPModel.save_pretrained`` together with its
            tokenizer (``CLIPTokenizer`` files); the hub is never contacted.
    """

    def __init__(self, path: str):
        super().__init__()
        from transformers import AutoTokenizer, CLIPModel
        if not os.path.isfile(os.path.join(path, 'config.json')):
            raise FileNotFoundError(f'CLIP folder {path} holds no config.json; '
                                    'expected a local CLIPModel folder')
        self.path = path
        self.model = CLIPModel.from_pretrained(path, local_files_only=True)
        self.tokenizer = AutoTokenizer.from_pretrained(path,
                                                       local_files_only=True)
        self.embed_dim = self.model.config.projection_dim
        self.image_size = self.model.config.vision_config.image_size
        mean, std = CLIP_MEAN, CLIP_STD
        preprocessor = os.path.join(path, 'preprocessor_config.json')
        if os.path.isfile(preprocessor):
            with open(preprocessor) as f:
                cfg = json.load(f)
            mean, std = cfg.get('image_mean', mean), cfg.get('image_std', std)
        self._set_normalisation(mean, std)
        self.freeze()

    def _image_features(self, images: torch.Tensor) -> torch.Tensor:
        return projected(self.model.get_image_features(
            pixel_values=self._normalise(images)))

    def _text_features(self, prompts: List[str]) -> torch.Tensor:
        max_length = self.model.config.text_config.max_position_embeddings
        batch = self.tokenizer(prompts, padding=True, truncation=True,
                               max_length=max_length, return_tensors='pt')
        return projected(self.model.get_text_features(
            input_ids=batch['input_ids'].to(self.device),
            attention_mask=batch['attention_mask'].to(self.device)))


@ENCODERS.register_module()
class OpenCLIP(_NormalisedCLIP):
    """An ``open_clip`` model with weights from a local file.

    Args:
        model_name: an open_clip architecture (``'ViT-B-32'``, ...).
        pretrained: path of a local checkpoint for it; ``None`` keeps the
            random initialisation (tests only).
    """

    def __init__(self, model_name: str, pretrained: Optional[str] = None):
        super().__init__()
        try:
            import open_clip
        except ImportError:
            raise ImportError('the OpenCLIP backend needs open_clip '
                              '(pip install open_clip_torch); HFCLIP reads '
                              'Hugging Face CLIP folders without it') from None
        if pretrained is not None and not os.path.isfile(pretrained):
            raise FileNotFoundError(f'open_clip checkpoint {pretrained} does '
                                    'not exist; give a local file')
        self.model = open_clip.create_model(model_name, pretrained=pretrained,
                                            device='cpu')
        self.tokenizer = open_clip.get_tokenizer(model_name)
        visual = self.model.visual
        size = visual.image_size
        self.image_size = size[0] if isinstance(size, (tuple, list)) else size
        self.embed_dim = int(self.model.text_projection.shape[-1]) if \
            isinstance(getattr(self.model, 'text_projection', None),
                       torch.Tensor) else visual.output_dim
        self._set_normalisation(getattr(visual, 'image_mean', None) or CLIP_MEAN,
                                getattr(visual, 'image_std', None) or CLIP_STD)
        self.freeze()

    def _image_features(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(self._normalise(images))

    def _text_features(self, prompts: List[str]) -> torch.Tensor:
        return self.model.encode_text(self.tokenizer(prompts).to(self.device))
