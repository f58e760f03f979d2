"""With base_channels=64, wsvision's ResNet has torchvision's parameter names
and shapes, so a user's local torchvision weights load into it."""
import pytest
import torchvision

from wsvision.models.backbones.resnet import ResNet


@pytest.mark.parametrize('depth', [18, 50, 101])
def test_state_dict_matches_torchvision(depth):
    ours = ResNet(depth=depth, base_channels=64).state_dict()
    theirs = getattr(torchvision.models, f'resnet{depth}')(weights=None).state_dict()
    theirs = {k: v for k, v in theirs.items() if not k.startswith('fc.')}
    assert ours.keys() == theirs.keys()
    for name, tensor in theirs.items():
        assert ours[name].shape == tensor.shape, name


def test_unknown_depth_is_refused():
    with pytest.raises(ValueError, match='depth must be one of'):
        ResNet(depth=152)
