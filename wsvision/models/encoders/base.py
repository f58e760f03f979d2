"""The frozen text-encoder interface shared by every entry in ``ENCODERS``."""
from abc import ABC, abstractmethod
from typing import List, Sequence, Tuple

import torch
from torch import nn


def check_texts(texts: Sequence[str]) -> List[str]:
    """Refuse anything but a non-empty list of strings, naming the bad item."""
    if isinstance(texts, str):
        raise ValueError('encode_text expects a list of strings, got one '
                         f'string: {texts[:40]!r}')
    texts = list(texts)
    if not texts:
        raise ValueError('encode_text got an empty list of texts')
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValueError(f'text {i} is {type(text).__name__}, expected str')
    return texts


class FrozenTextEncoder(nn.Module, ABC):
    """A text encoder whose weights never train.

    Subclasses implement ``tokenize`` and ``embed_tokens`` and set
    ``embed_dim``; ``encode_text`` runs both without building a graph. The
    module stays in eval mode (no dropout) even inside a model in train mode.
    """

    embed_dim: int

    def freeze(self) -> None:
        for param in self.parameters():
            param.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True):
        return super().train(False)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @abstractmethod
    def tokenize(self, texts: List[str]) -> Tuple[torch.Tensor, torch.Tensor]:
        """Token ids (B, L) long and a mask (B, L) bool, True on real tokens."""

    @abstractmethod
    def embed_tokens(self, token_ids: torch.Tensor,
                     mask: torch.Tensor) -> torch.Tensor:
        """Token embeddings (B, L, embed_dim) for ids on ``self.device``."""

    @torch.no_grad()
    def encode_text(self, texts: Sequence[str]
                    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Encode B strings.

        Returns:
            tokens: (B, L, embed_dim) float token embeddings.
            mask: (B, L) bool, True on real tokens, False on padding.
        """
        token_ids, mask = self.tokenize(check_texts(texts))
        token_ids, mask = token_ids.to(self.device), mask.to(self.device)
        return self.embed_tokens(token_ids, mask), mask

    @torch.no_grad()
    def encode_sentences(self, texts: Sequence[str]) -> torch.Tensor:
        """One unit-norm vector per string (B, embed_dim): the mean of the
        real tokens' embeddings, which is how sentence-transformers pools
        all-MiniLM-L6-v2."""
        tokens, mask = self.encode_text(texts)
        weights = mask.unsqueeze(-1).to(tokens.dtype)
        mean = (tokens * weights).sum(1) / weights.sum(1).clamp(min=1)
        return nn.functional.normalize(mean, dim=-1)
