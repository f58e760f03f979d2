"""Vision-language models in ``wsvision.registry.ENCODERS``: ``encode_image``
/ ``encode_text`` with L2-normalised outputs (see ``base``)."""
from .base import (PROMPT_TEMPLATES, VisionLanguageModel, prepare_crops,
                   zero_shot_probs)
from .clip import HFCLIP, OpenCLIP
from .mini_vlm import MiniImageEncoder, MiniVLM

__all__ = ['PROMPT_TEMPLATES', 'VisionLanguageModel', 'prepare_crops',
           'zero_shot_probs', 'HFCLIP', 'OpenCLIP', 'MiniImageEncoder',
           'MiniVLM']
