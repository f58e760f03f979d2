"""The VLM interface: every backend gives unit-norm image and text
embeddings of the right width, and checkpoints reload exactly."""
import hashlib
import importlib.util
import json
import shutil

import pytest
import torch

from wsvision.apis import CheckpointError
from wsvision.models.vlm import PROMPT_TEMPLATES, MiniVLM, prepare_crops
from wsvision.registry import ENCODERS

from tests.conftest import fashion_mnist_available, load_tool
from tests.vlm.helpers import register_tiny_open_clip, write_tiny_hf_clip

HAS_OPEN_CLIP = importlib.util.find_spec('open_clip') is not None
TINY_TEXT = dict(type='TinyTextEncoder', embed_dim=32)


def check_interface(vlm, dim):
    torch.manual_seed(0)
    crops = [torch.rand(3, 20, 30), torch.randint(0, 256, (3, 41, 17),
                                                  dtype=torch.uint8)]
    images = vlm.encode_image(crops)
    texts = vlm.encode_text(['a photo of a bag.', 'a photo of a shirt.',
                             'a photo of a sandal.'])
    assert images.shape == (2, dim) and texts.shape == (3, dim)
    for emb in (images, texts):
        assert not emb.requires_grad
        torch.testing.assert_close(emb.norm(dim=1), torch.ones(len(emb)))
    # Different inputs give different embeddings; equal ones equal embeddings.
    assert not torch.allclose(texts[0], texts[1])
    torch.testing.assert_close(vlm.encode_text(['a photo of a bag.'])[0],
                               texts[0])
    batch = vlm.encode_image(torch.stack([crops[0], crops[0]]))
    torch.testing.assert_close(batch[0], images[0], atol=1e-5, rtol=1e-5)
    # The class embedding is the normalised mean of its templates.
    names = ['bag', 'shirt']
    classes = vlm.class_embeddings(names, PROMPT_TEMPLATES[:3])
    per_template = vlm.encode_text([t.format('bag')
                                    for t in PROMPT_TEMPLATES[:3]])
    expected = torch.nn.functional.normalize(per_template.mean(0), dim=0)
    torch.testing.assert_close(classes[0], expected)


def test_mini_vlm_interface_and_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    vlm = ENCODERS.build(dict(type='MiniVLM', text_encoder=TINY_TEXT))
    check_interface(vlm, 32)
    path = str(tmp_path / 'vlm.pth')
    torch.save(vlm.checkpoint_state(), path)
    reloaded = MiniVLM(checkpoint=path)
    crops = torch.rand(4, 3, 32, 32)
    torch.testing.assert_close(reloaded.encode_image(crops),
                               vlm.encode_image(crops))
    # Frozen: no trainable parameter, eval mode even after .train().
    assert not any(p.requires_grad for p in reloaded.parameters())
    assert not reloaded.train().training
    # A published name carries its sha256 prefix, checked on load.
    digest = hashlib.sha256(open(path, 'rb').read()).hexdigest()
    published = tmp_path / f'mini-vlm-{digest[:8]}.pth'
    shutil.copy(path, published)
    MiniVLM(checkpoint=str(published))
    tampered = tmp_path / f'mini-vlm-{"0" * 8}.pth'
    shutil.copy(path, tampered)
    with pytest.raises(CheckpointError, match='tampered'):
        MiniVLM(checkpoint=str(tampered))


def test_hf_clip_backend_from_a_local_tiny_random_model(tmp_path):
    path = write_tiny_hf_clip(str(tmp_path / 'clip'))
    vlm = ENCODERS.build(dict(type='HFCLIP', path=path))
    assert vlm.image_size == 32
    check_interface(vlm, 16)


@pytest.mark.skipif(not HAS_OPEN_CLIP, reason='open_clip not installed')
def test_open_clip_backend_with_a_local_checkpoint(tmp_path):
    name = register_tiny_open_clip(str(tmp_path))
    torch.manual_seed(0)
    vlm = ENCODERS.build(dict(type='OpenCLIP', model_name=name))
    check_interface(vlm, 16)
    path = str(tmp_path / 'weights.pt')
    torch.save(vlm.model.state_dict(), path)
    torch.manual_seed(1)
    reloaded = ENCODERS.build(dict(type='OpenCLIP', model_name=name,
                                   pretrained=path))
    crops = torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(reloaded.encode_image(crops),
                               vlm.encode_image(crops))


def test_bad_inputs_raise_clear_errors(tmp_path):
    with pytest.raises(ValueError, match=r'\(N, 3, H, W\)'):
        prepare_crops(torch.rand(3, 8, 8), 16)
    with pytest.raises(ValueError, match='crop 1'):
        prepare_crops([torch.rand(3, 8, 8), torch.rand(1, 8, 8)], 16)
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        MiniVLM(checkpoint=str(tmp_path / 'missing.pth'))
    with pytest.raises(FileNotFoundError, match='config.json'):
        ENCODERS.build(dict(type='HFCLIP', path=str(tmp_path)))
    torch.save({'image_size': 32}, tmp_path / 'bad.pth')
    with pytest.raises(ValueError, match='image_encoder'):
        MiniVLM(checkpoint=str(tmp_path / 'bad.pth'))
    vlm = MiniVLM(text_encoder=TINY_TEXT)
    with pytest.raises(ValueError, match='list of strings'):
        vlm.encode_text('a photo of a bag.')


@pytest.mark.skipif(not fashion_mnist_available(),
                    reason='Fashion-MNIST is not installed')
def test_train_vlm_writes_a_checkpoint_and_zero_shot_accuracy(tmp_path):
    train_vlm = load_tool('train_vlm.py')
    out = tmp_path / 'vlm.pth'
    threads = torch.get_num_threads()
    try:
        train_vlm.main(['--out', str(out), '--iters', '3', '--batch-size', '16',
                        '--num-train', '64', '--num-test', '40', '--width', '8',
                        '--text-encoder', 'TinyTextEncoder', '--device', 'cpu'])
    finally:
        torch.set_num_threads(threads)
    metrics = json.loads((tmp_path / 'vlm.json').read_text())
    for key in ('zero_shot_acc_plain', 'zero_shot_acc_rendered'):
        assert 0.0 <= metrics[key] <= 1.0
    assert metrics['num_test'] == 40
    vlm = MiniVLM(checkpoint=str(out))
    assert vlm.width == 8 and vlm.embed_dim == 32
