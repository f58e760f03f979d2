"""Stop training on a non-finite loss, before that iteration is checkpointed."""
import math

import torch

from mmengine.hooks import Hook

from ...registry import HOOKS


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Raise ``FloatingPointError`` naming the iteration and the loss terms.

    It runs with a higher priority than ``CheckpointHook``, so the iteration
    that produced the NaN/Inf is never saved and the last good checkpoint on
    disk stays intact; resume from it with a lower learning rate.
    """

    priority = 'ABOVE_NORMAL'

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if not outputs:
            return
        values = {name: float(value.detach() if torch.is_tensor(value) else value)
                  for name, value in outputs.items() if name.startswith('loss')}
        bad = {name: value for name, value in values.items()
               if not math.isfinite(value)}
        if bad:
            terms = ', '.join(f'{name}={value}' for name, value in bad.items())
            raise FloatingPointError(
                f'non-finite loss at iteration {runner.iter + 1}: {terms}; '
                'training stopped, the last checkpoint on disk is intact')
