"""Input checks shared by the ops: clear ``ValueError``s that name the argument."""
import torch

KERNEL_DTYPES = (torch.float32, torch.float64)


def check_features(feat, name='feat'):
    """Require a non-empty float32/float64 (B, C, h, w) tensor."""
    if not isinstance(feat, torch.Tensor) or feat.dim() != 4:
        shape = tuple(feat.shape) if isinstance(feat, torch.Tensor) else type(feat).__name__
        raise ValueError(f'{name} must be a (B, C, h, w) tensor, got {shape}')
    if feat.dtype not in KERNEL_DTYPES:
        raise ValueError(f'{name} must be float32 or float64, got {feat.dtype}; '
                         'cast it (e.g. feat.float()) before the op')
    if feat.numel() == 0:
        raise ValueError(f'{name} must not be empty, got shape {tuple(feat.shape)}')


def check_like(tensor, name, shapes, feat):
    """Require ``tensor`` to have one of ``shapes`` and feat's dtype and device.

    Args:
        tensor (Tensor): the argument to check.
        name (str): its name, for the message.
        shapes (list[tuple]): accepted shapes.
        feat (Tensor): the op's features, whose dtype and device must match.
    """
    if not isinstance(tensor, torch.Tensor) or tuple(tensor.shape) not in shapes:
        got = tuple(tensor.shape) if isinstance(tensor, torch.Tensor) else type(tensor).__name__
        wanted = ' or '.join(str(s) for s in shapes)
        raise ValueError(f'{name} must have shape {wanted}, got {got}')
    if tensor.device != feat.device:
        raise ValueError(f'{name} is on {tensor.device} but feat is on {feat.device}')
    if tensor.is_floating_point() and tensor.dtype != feat.dtype:
        raise ValueError(f'{name} has dtype {tensor.dtype} but feat has {feat.dtype}')
