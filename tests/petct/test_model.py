"""ConTEXTual Net 3D: language cross-attention, the network and the model."""
import pytest
import torch

from wsvision.datasets.petct.data_sample import GroundingDataSample
from wsvision.models.grounding import (ConTEXTualNet3D, LanguageCrossAttention,
                                       build_dynunet)

FILTERS = (4, 8, 8, 8)
STRIDES = (1, 2, 2, 2)
TINY_TEXT = dict(type='TinyTextEncoder', embed_dim=12)


def test_cross_attention_shapes_and_gating():
    torch.manual_seed(0)
    gate = LanguageCrossAttention(channels=6, text_dim=10, num_heads=2)
    feats = torch.randn(2, 6, 3, 4, 5)
    tokens = torch.randn(2, 7, 10)
    mask = torch.ones(2, 7, dtype=torch.bool)
    out = gate(feats, tokens, mask)
    assert out.shape == feats.shape
    # tanh gating: never larger than the features themselves.
    assert torch.all(out.abs() <= feats.abs() + 1e-6)
    # Padded tokens are ignored: changing them changes nothing.
    mask[1, 5:] = False
    reference = gate(feats, tokens, mask)
    tokens[1, 5:] = 100.0
    torch.testing.assert_close(gate(feats, tokens, mask), reference)
    # Other text, other gate.
    assert not torch.allclose(gate(feats, torch.randn(2, 7, 10), mask),
                              reference)


def test_gates_sit_in_the_deepest_up_blocks():
    net = build_dynunet((64, 96, 128, 192, 256), (1, 2, 2, 2, 2),
                        text_dim=384, text_levels=3)
    widths = [gate.text_projection.out_features for gate in net.language_gates]
    assert widths == [192, 128, 96]  # the paper's widths
    assert all(g.text_projection.in_features == 384
               for g in net.language_gates)
    plain = build_dynunet((64, 96, 128, 192, 256), (1, 2, 2, 2, 2))
    assert len(plain.language_gates) == 0
    with pytest.raises(ValueError, match='text_levels must be in 1..4'):
        build_dynunet((8, 8, 8, 8, 8), (1, 2, 2, 2, 2), text_dim=4,
                      text_levels=5)


def test_network_output_shape_and_text_dependence():
    torch.manual_seed(0)
    net = build_dynunet(FILTERS, STRIDES, text_dim=5, text_levels=2)
    x = torch.randn(1, 2, 16, 16, 24)
    mask = torch.ones(1, 3, dtype=torch.bool)
    out = net(x, torch.randn(1, 3, 5), mask)
    assert out.shape == (1, 2, 16, 16, 24)
    assert not torch.allclose(out, net(x, torch.randn(1, 3, 5), mask))
    with pytest.raises(ValueError, match='pass tokens'):
        net(x)


def samples(texts, shape):
    out = []
    for i, text in enumerate(texts):
        sample = GroundingDataSample(metainfo=dict(text=text, tracer='FDG'))
        gt = torch.zeros(1, *shape, dtype=torch.uint8)
        gt[0, 4 + 4 * i:8 + 4 * i, 4:8, 4:8] = 1
        sample.gt_mask = gt
        out.append(sample)
    return out


def test_loss_falls_and_predict_uses_the_sliding_window():
    torch.manual_seed(0)
    shape = (16, 16, 16)
    model = ConTEXTualNet3D(filters=FILTERS, strides=STRIDES,
                            text_encoder=TINY_TEXT, text_levels=2,
                            roi_size=(16, 16, 16), sw_batch_size=2)
    data = samples(['right node', 'left node'], shape)
    inputs = torch.rand(2, 2, *shape)
    for i, sample in enumerate(data):
        inputs[i, 0][sample.gt_mask[0] > 0] = 1.0  # the lesions are hot
    optimizer = torch.optim.Adam(
        [p for p in model.parameters() if p.requires_grad], lr=1e-2)
    losses = []
    for _ in range(8):
        loss = sum(model(inputs, data, mode='loss').values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]
    # The frozen encoder does not train.
    assert all(not p.requires_grad for p in model.text_encoder.parameters())
    model.eval()
    logits = model(inputs, data, mode='tensor')
    assert logits.shape == (2, 2, *shape)
    # One window covering the volume reproduces the full-volume pass.
    predictions = model(inputs, data, mode='predict')
    assert predictions[0].pred_mask.dtype == torch.uint8
    for i, sample in enumerate(predictions):
        assert torch.equal(sample.pred_mask[0], logits[i].argmax(0).byte())
    # Smaller overlapping windows tile it (sliding-window inference).
    model.roi_size = (16, 16, 8)
    predictions = model(inputs, data, mode='predict')
    assert predictions[1].pred_mask.shape == (1, *shape)


def test_no_text_baseline_ignores_the_sentence():
    torch.manual_seed(0)
    shape = (16, 16, 16)
    model = ConTEXTualNet3D(filters=FILTERS, strides=STRIDES,
                            text_encoder=None, roi_size=shape).eval()
    assert not model.uses_text and len(model.net.language_gates) == 0
    inputs = torch.rand(1, 2, *shape)
    first = model(inputs, samples(['right node'], shape), mode='tensor')
    second = model(inputs, samples(['left liver lesion'], shape),
                   mode='tensor')
    torch.testing.assert_close(first, second)
    with pytest.raises(ValueError, match='mode must be'):
        model(inputs, None, mode='features')
