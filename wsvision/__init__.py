"""wsvision: weakly-supervised segmentation and detection on current PyTorch."""
from .utils.checkpoint import (register_checkpoint_safe_globals,
                               use_atomic_local_writes)
from .version import __version__

# MMEngine checkpoints hold HistoryBuffer objects and numpy values: allow
# exactly those under torch's weights-only unpickler, and write atomically.
register_checkpoint_safe_globals()
use_atomic_local_writes()

__all__ = ['__version__']
