"""ResNet(norm_eval=True) keeps its BatchNorm statistics while it trains."""
import torch

from wsvision.models.backbones.resnet import ResNet


def _train_step(norm_eval: bool):
    torch.manual_seed(0)
    net = ResNet(depth=18, base_channels=8, norm_eval=norm_eval)
    before = {k: v.clone() for k, v in net.state_dict().items() if 'running' in k}
    net.train()
    sum(o.mean() for o in net(torch.randn(2, 3, 32, 32) * 3 + 1)).backward()
    after = {k: v for k, v in net.state_dict().items() if 'running' in k}
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    return net, changed


def test_norm_eval_freezes_running_statistics_but_not_affine_weights():
    net, changed = _train_step(norm_eval=True)
    assert net.training and not changed
    assert net.bn1.weight.grad is not None and net.bn1.weight.grad.abs().sum() > 0
    net, changed = _train_step(norm_eval=False)
    assert len(changed) > 10  # every BatchNorm moved
