"""init_model: weights-only loading, tamper detection, mismatch errors."""
import os
import os.path as osp

import pytest
import torch

from wsvision.apis import CheckpointError, init_model, load_checkpoint_file
from wsvision.apis.hub import sha256_of

from .helpers import save_training_checkpoint, write_tiny_seg_config


@pytest.fixture
def seg_config(tmp_path):
    return write_tiny_seg_config(tmp_path)


@pytest.fixture
def seg_checkpoint(tmp_path, seg_config):
    torch.manual_seed(0)
    model = init_model(seg_config, checkpoint=None)
    return save_training_checkpoint(model, seg_config,
                                    str(tmp_path / 'iter_6.pth'))


def test_loads_training_checkpoint_weights_and_classes(seg_config,
                                                       seg_checkpoint):
    model = init_model(seg_config, seg_checkpoint)
    saved = torch.load(seg_checkpoint, weights_only=True)['state_dict']
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, saved[key])
    assert model.dataset_meta['classes'][1] == 't-shirt/top'
    assert not model.training


class RunsCode:
    """Unpickling this calls ``os.system``: what a hostile checkpoint does."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


def test_pickle_that_executes_code_is_refused(tmp_path):
    marker = tmp_path / 'code_ran'
    path = str(tmp_path / 'evil.pth')
    torch.save(dict(state_dict={}, meta=dict(payload=RunsCode(marker))), path)
    with pytest.raises(CheckpointError, match='refused to load.*system'):
        load_checkpoint_file(path)
    assert not marker.exists()


def test_tampered_published_checkpoint_is_refused(tmp_path, seg_config,
                                                  seg_checkpoint):
    digest = sha256_of(seg_checkpoint)
    published = tmp_path / f'tiny_seg-{digest[:8]}.pth'
    data = bytearray(open(seg_checkpoint, 'rb').read())
    data[len(data) // 2] ^= 0xFF  # one flipped byte inside the weights
    published.write_bytes(bytes(data))
    with pytest.raises(CheckpointError,
                       match=f'tampered with.*expected {digest[:8]}'):
        init_model(seg_config, str(published))


def test_class_count_mismatch_names_the_keys(tmp_path, seg_checkpoint):
    five_classes = write_tiny_seg_config(tmp_path, num_classes=5,
                                         name='five')
    with pytest.raises(CheckpointError) as error:
        init_model(five_classes, seg_checkpoint)
    message = str(error.value)
    assert 'decode_head.cls_seg.weight (checkpoint (11, 16, 1, 1), model ' \
        '(5, 16, 1, 1))' in message
    assert 'decode_head.cls_seg.bias' in message


def test_class_name_mismatch_is_refused(seg_config, seg_checkpoint):
    classes = ['background', 'shirt'] + ['x'] * 9
    with pytest.raises(CheckpointError,
                       match="other classes: 1: checkpoint 't-shirt/top' vs "
                       "expected 'shirt'"):
        init_model(seg_config, seg_checkpoint, classes=classes)


def test_architecture_mismatch_names_missing_and_unexpected_keys(
        tmp_path, seg_config, seg_checkpoint):
    checkpoint = torch.load(seg_checkpoint, weights_only=True)
    state = checkpoint['state_dict']
    state['decode_head.extra.weight'] = state.pop(
        'decode_head.fuse.0.0.weight')
    torch.save(checkpoint, tmp_path / 'renamed.pth')
    with pytest.raises(CheckpointError) as error:
        init_model(seg_config, str(tmp_path / 'renamed.pth'))
    assert 'missing keys: decode_head.fuse.0.0.weight' in str(error.value)
    assert 'unexpected keys: decode_head.extra.weight' in str(error.value)


def test_missing_checkpoint_and_config_errors(tmp_path, seg_config):
    with pytest.raises(CheckpointError, match='checkpoint not found'):
        init_model(seg_config, str(tmp_path / 'absent.pth'))
    with pytest.raises(FileNotFoundError, match='config file not found'):
        init_model(str(tmp_path / 'absent.py'), None)
    with pytest.raises(LookupError, match='no model named'):
        init_model('no_such_model', index_file=osp.join(
            osp.dirname(__file__), '..', '..', 'model-index.yml'))
