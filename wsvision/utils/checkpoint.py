"""Checkpoint reliability on current PyTorch.

- ``register_checkpoint_safe_globals``: torch>=2.6 loads checkpoints with
  ``weights_only=True``. MMEngine 0.10.7 checkpoints carry the message hub
  (``HistoryBuffer`` objects holding numpy arrays and numpy scalars), which the
  weights-only unpickler rejects, so ``--resume`` crashes. We make
  ``HistoryBuffer`` pickle as a plain constructor call and allow exactly those
  types and nothing else; weights-only loading is never turned off.
- ``use_atomic_local_writes``: a checkpoint (and the ``last_checkpoint``
  pointer) is written to a temporary file in the same folder and then renamed
  into place, so a run killed mid-write never leaves a truncated checkpoint.
"""
import os
import tempfile

import numpy as np
import torch
from mmengine.fileio import LocalBackend, register_backend


def _numpy_safe_globals():
    """numpy types that appear in pickled arrays and scalars (numpy 1.x and 2.x)."""
    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar
    dtype_classes = [type(np.dtype(t)) for t in (
        np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
        np.uint32, np.uint64, np.float16, np.float32, np.float64)]
    return [_reconstruct, scalar, np.ndarray, np.dtype, *dtype_classes]


def checkpoint_safe_globals():
    """Every non-tensor type an MMEngine training checkpoint may contain."""
    from mmengine.logging.history_buffer import HistoryBuffer
    return [HistoryBuffer, *_numpy_safe_globals()]


def _reduce_history_buffer(buffer):
    # Rebuild from the constructor arguments: arrays and an int. The default
    # pickle of a HistoryBuffer also stores its statistics methods through
    # ``getattr``, which a weights-only loader must never allow (it reaches
    # arbitrary attributes, hence code execution).
    return (type(buffer), (buffer._log_history, buffer._count_history,
                           buffer.max_length))


def register_checkpoint_safe_globals():
    """Allow MMEngine's checkpoint contents under ``torch.load(weights_only=True)``."""
    from mmengine.logging.history_buffer import HistoryBuffer
    HistoryBuffer.__reduce__ = _reduce_history_buffer
    torch.serialization.add_safe_globals(checkpoint_safe_globals())


def _atomic_write(data, filepath, mode):
    folder = os.path.dirname(os.path.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(
        dir=folder, prefix='.' + os.path.basename(filepath) + '.', suffix='.tmp')
    try:
        with os.fdopen(fd, mode) as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, filepath)
    except BaseException:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
        raise


class AtomicLocalBackend(LocalBackend):
    """MMEngine's local file backend, with writes made atomic by rename."""

    def put(self, obj: bytes, filepath) -> None:
        _atomic_write(obj, str(filepath), 'wb')

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        _atomic_write(obj.encode(encoding), str(filepath), 'wb')


def use_atomic_local_writes():
    """Make every MMEngine write to a local path (checkpoints included) atomic."""
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')
