"""Weights-only loading of MMEngine checkpoints, refusal of code, atomic writes."""
import io
import os
import pickle

import numpy as np
import pytest
import torch
from mmengine.fileio import get_file_backend
from mmengine.logging import HistoryBuffer, MessageHub

import wsvision  # noqa: F401  (registers the allow-list and atomic writes)


def test_message_hub_state_loads_weights_only(tmp_path):
    hub = MessageHub.get_instance('wsvision_test_checkpoint')
    for value in (0.5, 0.25, 0.125):
        hub.update_scalar('train/loss', value)
    hub.update_info('iter', np.int64(7))
    checkpoint = dict(state_dict={'w': torch.ones(2)},
                      message_hub=hub.state_dict(),
                      meta=dict(seed=np.int64(3), lr=np.float32(0.1)))
    path = tmp_path / 'ckpt.pth'
    torch.save(checkpoint, path)
    loaded = torch.load(path, weights_only=True)
    buffer = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer)
    assert buffer.mean() == pytest.approx((0.5 + 0.25 + 0.125) / 3)
    assert buffer.current() == 0.125
    assert loaded['meta']['seed'] == 3


class RunsCode:
    def __reduce__(self):
        return (os.system, ('echo pwned',))


def test_pickle_that_runs_code_is_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'payload': RunsCode()}, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)


def test_getattr_gadget_is_refused(tmp_path):
    # A stock MMEngine HistoryBuffer pickle goes through builtins.getattr;
    # the allow-list must not admit it.
    payload = io.BytesIO()
    pickle.Pickler(payload).dump(getattr)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(io.BytesIO(_torch_zip_with(payload.getvalue(), tmp_path)),
                   weights_only=True)


def _torch_zip_with(raw_pickle: bytes, tmp_path) -> bytes:
    """A torch zip checkpoint whose data.pkl is ``raw_pickle``."""
    import zipfile
    path = tmp_path / 'gadget.pth'
    torch.save({}, path)
    source = zipfile.ZipFile(path)
    out = io.BytesIO()
    with zipfile.ZipFile(out, 'w') as target:
        for item in source.infolist():
            data = raw_pickle if item.filename.endswith('data.pkl') else \
                source.read(item.filename)
            target.writestr(item, data)
    return out.getvalue()


def test_local_writes_are_atomic(tmp_path, monkeypatch):
    backend = get_file_backend(str(tmp_path / 'x.pth'))
    target = tmp_path / 'ckpt.pth'
    backend.put(b'good checkpoint', target)

    def failing_fsync(fd):
        raise OSError('disk full')

    monkeypatch.setattr(os, 'fsync', failing_fsync)
    with pytest.raises(OSError, match='disk full'):
        backend.put(b'half-written', target)
    assert target.read_bytes() == b'good checkpoint'
    assert sorted(os.listdir(tmp_path)) == ['ckpt.pth']
