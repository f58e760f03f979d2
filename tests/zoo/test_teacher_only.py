"""Inference-only zoo files: a teacher-student model publishes its EMA
teacher alone, keyed as the plain detector, and loads back into the full
model; ``--inference-only`` drops the state only training reads."""
import pytest
import torch

from tests.conftest import load_tool
from tests.wscol.test_wscol_model import build
from wsvision.apis import CheckpointError
from wsvision.apis.model import check_state_dict

publish_model = load_tool('model_zoo', 'publish_model.py')


@pytest.fixture
def trained_checkpoint(tmp_path):
    """A WSCoL training checkpoint whose teacher differs from its student."""
    model = build()
    with torch.no_grad():
        for param in model.teacher.parameters():
            param.add_(torch.randn_like(param))
    path = tmp_path / 'iter_10.pth'
    torch.save(dict(meta=dict(cfg="model = dict(type='WSCoL')"),
                    state_dict=model.state_dict()), path)
    return model, str(path)


def test_teacher_only_keeps_the_teacher_as_a_plain_detector(trained_checkpoint):
    model, path = trained_checkpoint
    weights = publish_model.strip_checkpoint(path, fp16=False,
                                             teacher_only=True)['state_dict']
    assert weights.keys() == model.teacher.state_dict().keys()
    for name, value in model.teacher.state_dict().items():
        assert torch.equal(weights[name], value), name

    fresh = build()
    check_state_dict(fresh, weights, 'teacher-only file')  # no error
    fresh.load_state_dict(weights, strict=False)
    for network in (fresh.teacher, fresh.student):
        for name, value in model.teacher.state_dict().items():
            assert torch.equal(network.state_dict()[name], value), name
    # Only training state (mapping network, memory, step) may be absent.
    del weights['roi_head.bbox_regressor.weight']
    with pytest.raises(CheckpointError,
                       match='missing keys: mean_teacher.student.roi_head'
                       '.bbox_regressor.weight'):
        check_state_dict(fresh, weights, 'teacher-only file')


def test_teacher_only_refuses_a_checkpoint_without_a_teacher(tmp_path):
    path = tmp_path / 'plain.pth'
    torch.save(dict(meta=dict(cfg='model = dict()'),
                    state_dict={'backbone.conv1.weight': torch.zeros(1)}), path)
    with pytest.raises(ValueError, match='no mean_teacher.teacher'):
        publish_model.strip_checkpoint(str(path), fp16=False,
                                       teacher_only=True)


def test_inference_only_drops_the_model_classs_training_state(
        trained_checkpoint):
    model, path = trained_checkpoint
    weights = publish_model.strip_checkpoint(path, fp16=False,
                                             inference_only=True)['state_dict']
    dropped = set(model.state_dict()) - set(weights)
    assert dropped and all(k.startswith(('mapping.', 'memory.', 'step'))
                           for k in dropped)
    assert any(k.startswith('mapping.') for k in dropped)
    assert all(k.startswith('mean_teacher.') for k in weights)
