"""Tiny randomly initialised CLIP models written to a folder (no download)."""
import json
import os

import torch


def write_tiny_hf_clip(folder: str) -> str:
    """A random ``CLIPModel`` (16-d projections, 32 px images) and a
    byte-level ``CLIPTokenizer`` without merges, saved to ``folder``."""
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import CLIPConfig, CLIPModel, CLIPTokenizer
    torch.manual_seed(0)
    characters = sorted(ByteLevel.alphabet())
    vocab = {'<|startoftext|>': 0, '<|endoftext|>': 1}
    for suffix in ('', '</w>'):
        vocab.update({c + suffix: len(vocab) + i
                      for i, c in enumerate(characters)})
    config = CLIPConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=16,
                         intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=64,
                         bos_token_id=0, eos_token_id=1, pad_token_id=1),
        vision_config=dict(hidden_size=16, intermediate_size=32,
                           num_hidden_layers=1, num_attention_heads=2,
                           image_size=32, patch_size=8),
        projection_dim=16)
    CLIPModel(config).save_pretrained(folder)
    CLIPTokenizer(vocab=vocab, merges=[],
                  model_max_length=64).save_pretrained(folder)
    return folder


TINY_OPEN_CLIP = dict(
    embed_dim=16,
    vision_cfg=dict(image_size=32, layers=1, width=32, patch_size=8,
                    head_width=16),
    text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2,
                  layers=1))


def register_tiny_open_clip(folder: str, name: str = 'wsvision-tiny-test'):
    """Register ``TINY_OPEN_CLIP`` with open_clip under ``name``."""
    import open_clip
    path = os.path.join(folder, f'{name}.json')
    with open(path, 'w') as f:
        json.dump(TINY_OPEN_CLIP, f)
    open_clip.add_model_config(path)
    return name
