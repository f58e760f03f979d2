"""File reading shared by every loader, with errors that name the file.

A loader never lets a bare ``cv2`` ``None`` or a ``KeyError`` escape: a
missing, corrupt or malformed input raises ``DataError`` with the path (and,
where it applies, the key or index) so the user knows what to fix.
"""
import json
import os

import cv2
import numpy as np
import scipy.io
from PIL import Image


class DataError(ValueError):
    """A dataset file is missing, unreadable or malformed."""


def check_file(path: str, what: str = 'file') -> str:
    if not os.path.isfile(path):
        raise DataError(f'{what} not found: {path}')
    return path


def check_dir(path: str, what: str = 'data folder') -> str:
    if not os.path.isdir(path):
        raise DataError(f'{what} not found: {path}')
    return path


def read_image(path: str) -> np.ndarray:
    """Read an image as uint8 RGB (H, W, 3)."""
    check_file(path, 'image')
    buf = np.fromfile(path, dtype=np.uint8)
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR) if buf.size else None
    if img is None:
        raise DataError(f'corrupt or unreadable image: {path}')
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _is_palette_png(buf: np.ndarray) -> bool:
    """Whether the bytes are a PNG with colour type 3 (palette), which the
    IHDR chunk stores at byte 25."""
    return (buf.size > 25 and buf[:8].tobytes() == b'\x89PNG\r\n\x1a\n'
            and int(buf[25]) == 3)


def read_label_png(path: str) -> np.ndarray:
    """Read a single-channel label PNG (palette or grey) as uint8 (H, W)."""
    check_file(path, 'label map')
    buf = np.fromfile(path, dtype=np.uint8)
    if _is_palette_png(buf):
        # OpenCV expands palette PNGs (VOC) to colours even with
        # IMREAD_UNCHANGED; PIL keeps the palette indices, i.e. the class ids.
        try:
            with Image.open(path) as image:
                label = np.array(image)
        except (OSError, ValueError, SyntaxError) as e:
            raise DataError(f'corrupt or unreadable label map: {path} '
                            f'({e})') from e
    else:
        label = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if buf.size else None
    if label is None:
        raise DataError(f'corrupt or unreadable label map: {path}')
    if label.ndim == 3:
        if not (np.array_equal(label[..., 0], label[..., 1])
                and np.array_equal(label[..., 0], label[..., 2])):
            raise DataError(
                f'label map {path} has {label.shape[2]} differing channels; '
                'expected a single-channel or palette PNG of class ids')
        label = label[..., 0]
    if label.dtype != np.uint8:
        raise DataError(f'label map {path} has dtype {label.dtype}; '
                        'expected 8-bit class ids')
    return label


def load_mat(path: str) -> dict:
    """Variables of a MATLAB v5 ``.mat`` file (``scipy.io.loadmat`` layout:
    structs as record arrays, cells as object arrays, nothing squeezed)."""
    check_file(path, 'MATLAB file')
    try:
        return scipy.io.loadmat(path)
    except Exception as e:  # scipy raises OSError, ValueError, IndexError ...
        raise DataError(f'corrupt or unreadable MATLAB file {path}: '
                        f'{type(e).__name__}: {e}') from e


def read_label_mat(path: str, struct: str = 'GTcls',
                   field: str = 'Segmentation') -> np.ndarray:
    """Read the class-id map ``struct.field`` of a ``.mat`` file (SBD's
    ``cls/*.mat`` hold ``GTcls.Segmentation``) as uint8 (H, W)."""
    variables = load_mat(path)
    if struct not in variables:
        raise DataError(f'{path}: missing key {struct!r}')
    record = variables[struct]
    if record.dtype.names is None or field not in record.dtype.names:
        raise DataError(f'{path}: {struct} has no field {field!r}')
    label = np.asarray(record[field].ravel()[0])
    if label.ndim != 2 or label.dtype.kind not in 'ui' or label.size == 0 or (
            label.min() < 0 or label.max() > 255):
        raise DataError(f'{path}: {struct}.{field} must be a 2-D map of class '
                        f'ids in 0..255, got {label.dtype} {label.shape}')
    return label.astype(np.uint8)


def read_label_map(path: str) -> np.ndarray:
    """Read a label map from a PNG or an SBD-style ``.mat`` file."""
    if path.endswith('.mat'):
        return read_label_mat(path)
    return read_label_png(path)


def write_label_png(path: str, label: np.ndarray) -> None:
    """Write uint8 (H, W) class ids losslessly as a grey PNG."""
    if label.dtype != np.uint8 or label.ndim != 2:
        raise ValueError(f'label map for {path} must be uint8 (H, W), got '
                         f'{label.dtype} {label.shape}')
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if not cv2.imwrite(path, label):
        raise DataError(f'could not write {path}')


def load_json(path: str):
    check_file(path, 'annotation file')
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise DataError(f'malformed JSON in {path}: line {e.lineno} column '
                        f'{e.colno}: {e.msg}') from None


def require_keys(record: dict, keys, where: str) -> None:
    """Raise ``DataError`` naming ``where`` and the first missing key."""
    for key in keys:
        if key not in record:
            raise DataError(f'{where}: missing key {key!r}')
