"""Save the random generators with each checkpoint and restore them on resume.

Without this, a resumed run replays the data stream (MMEngine re-reads the
skipped batches) but not the randomness the model itself drew (dropout,
sampling inside losses), so it drifts from an uninterrupted run. In an
iteration-based loop MMEngine advances the dataloader past the iterations
already trained, drawing augmentation randomness as it goes; the saved states
are therefore restored after that advance, right before the first new batch
is fetched. Epoch-based loops resume at an epoch boundary and restore at once.
"""
import random

import numpy as np
import torch
from mmengine.hooks import Hook

from ...registry import HOOKS


def capture_random_state() -> dict:
    state = dict(python=random.getstate(), numpy=np.random.get_state(),
                 torch=torch.get_rng_state())
    if torch.cuda.is_available():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_random_state(state: dict) -> None:
    random.setstate(state['python'])
    np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


class RestoreAfterSkip:
    """Iterator proxy: restore ``state`` just before fetch number ``skip + 1``."""

    def __init__(self, iterator, skip: int, state: dict):
        self.iterator, self.remaining, self.state = iterator, skip, state

    def __iter__(self):
        return self

    def __next__(self):
        if self.remaining == 0 and self.state is not None:
            restore_random_state(self.state)
            self.state = None
        self.remaining -= 1
        return next(self.iterator)


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Checkpoint ``random``, numpy and torch generator states (rank 0's)."""

    priority = 'VERY_HIGH'

    def __init__(self):
        self._state = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['random_state'] = capture_random_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._state = checkpoint.get('random_state')

    def before_train(self, runner) -> None:
        state, self._state = self._state, None
        # Only a resumed run continues the streams; ``load_from`` starts at 0.
        if state is None or runner.iter == 0:
            return
        loop = runner.train_loop
        if hasattr(loop, 'dataloader_iterator'):
            loop.dataloader_iterator = RestoreAfterSkip(
                loop.dataloader_iterator, runner.iter, state)
        else:
            restore_random_state(state)
