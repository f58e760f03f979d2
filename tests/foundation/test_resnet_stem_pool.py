"""ResNet(stem_pool=False) drops the stem's max-pool: every stage at twice
the resolution, with the same parameters."""
import torch

from wsvision.models.backbones.resnet import ResNet


def test_without_stem_pool_every_stage_doubles_its_resolution():
    x = torch.randn(2, 3, 64, 64)
    pooled = ResNet(depth=18, base_channels=8, strides=(1, 2, 2, 1),
                    dilations=(1, 1, 1, 2))
    unpooled = ResNet(depth=18, base_channels=8, strides=(1, 2, 2, 1),
                      dilations=(1, 1, 1, 2), stem_pool=False)
    assert [o.shape[-1] for o in pooled(x)] == [16, 8, 4, 4]
    assert [o.shape[-1] for o in unpooled(x)] == [32, 16, 8, 8]
    assert pooled.state_dict().keys() == unpooled.state_dict().keys()
    # Same weights, same stem: stage 1 of the pooled net is the unpooled
    # net's stage 1 run on the max-pooled stem output.
    unpooled.load_state_dict(pooled.state_dict())
    pooled.eval()
    unpooled.eval()
    with torch.no_grad():
        stem = unpooled.relu(unpooled.bn1(unpooled.conv1(x)))
        expected = unpooled.layer1(torch.nn.functional.max_pool2d(stem, 3, 2, 1))
        assert torch.allclose(pooled(x)[0], expected)
