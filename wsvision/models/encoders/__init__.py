"""Text encoders registered in ``wsvision.registry.ENCODERS``.

Every text encoder maps a list of strings to token embeddings and a padding
mask through ``encode_text`` and exposes its width as ``embed_dim``.
"""
from .hf_text import HFTextEncoder, minilm_l6_v2_path
from .tiny_text import TinyTextEncoder

__all__ = ['HFTextEncoder', 'TinyTextEncoder', 'minilm_l6_v2_path']
