"""A tiny random-init text encoder: fast, deterministic, no files needed.

It exists so that unit tests and smoke runs can exercise the language path
without loading a pretrained model. Words are hashed into a fixed embedding
table drawn from a seeded generator, so equal words get equal vectors on
every machine.
"""
import re
import zlib
from typing import List, Tuple

import torch
from torch import nn

from ...registry import ENCODERS
from .base import FrozenTextEncoder

_WORD = re.compile(r'[a-z]+|\d+(?:\.\d+)?|[^\sa-z\d]')
_PAD_ID, _START_ID = 0, 1


@ENCODERS.register_module()
class TinyTextEncoder(FrozenTextEncoder):
    """Hashed word embeddings (B, L, embed_dim); L counts a start token.

    Args:
        embed_dim: width of the token embeddings.
        vocab_size: number of hash buckets (ids 0 and 1 are reserved).
        max_length: longer texts are truncated to this many tokens.
        seed: seed of the embedding table.
    """

    def __init__(self, embed_dim: int = 32, vocab_size: int = 4096,
                 max_length: int = 64, seed: int = 0):
        super().__init__()
        if vocab_size < 3:
            raise ValueError(f'vocab_size must be at least 3, got {vocab_size}')
        generator = torch.Generator().manual_seed(seed)
        self.embedding = nn.Embedding(vocab_size, embed_dim,
                                      padding_idx=_PAD_ID)
        with torch.no_grad():
            self.embedding.weight.copy_(
                torch.randn(vocab_size, embed_dim, generator=generator))
            self.embedding.weight[_PAD_ID].zero_()
        self.embed_dim = embed_dim
        self.vocab_size = vocab_size
        self.max_length = max_length
        self.freeze()

    def _word_id(self, word: str) -> int:
        return 2 + zlib.crc32(word.encode('utf-8')) % (self.vocab_size - 2)

    def tokenize(self, texts: List[str]) -> Tuple[torch.Tensor, torch.Tensor]:
        # The start token keeps every sequence non-empty, so attention over
        # the tokens always has at least one key.
        sequences = [[_START_ID] + [self._word_id(w) for w in
                                    _WORD.findall(text.lower())]
                     for text in texts]
        sequences = [seq[:self.max_length] for seq in sequences]
        length = max(len(seq) for seq in sequences)
        token_ids = torch.full((len(texts), length), _PAD_ID, dtype=torch.long)
        for row, seq in enumerate(sequences):
            token_ids[row, :len(seq)] = torch.tensor(seq)
        return token_ids, token_ids != _PAD_ID

    def embed_tokens(self, token_ids: torch.Tensor,
                     mask: torch.Tensor) -> torch.Tensor:
        return self.embedding(token_ids)
