"""Fashion-MNIST as the item source of FashionScenes: IDX reading and splits.

Fashion-MNIST ships as four IDX files (gzip-compressed or not). Debian's
``dataset-fashion-mnist`` installs them in ``/usr/share/datasets/fashion-mnist``;
torchvision keeps the same files in ``<root>/FashionMNIST/raw``.

IDX format: a big-endian header ``0x00 0x00 <dtype code> <ndim>``, then ``ndim``
big-endian uint32 sizes, then the data. Fashion-MNIST uses dtype code 0x08
(unsigned byte): images are (N, 28, 28), labels are (N,).
"""
import functools
import gzip
import os
from dataclasses import dataclass

import numpy as np

from ..io import DataError, check_dir

#: Fashion-MNIST class names in label order (label i is ``FASHION_CLASSES[i]``).
FASHION_CLASSES = ('t-shirt/top', 'trouser', 'pullover', 'dress', 'coat',
                   'sandal', 'shirt', 'sneaker', 'bag', 'ankle boot')
#: Semantic-mask class names: id 0 is background, Fashion-MNIST label i is id i+1.
SEG_CLASSES = ('background', ) + FASHION_CLASSES

DEFAULT_SOURCE = '/usr/share/datasets/fashion-mnist'
#: Environment variable naming another Fashion-MNIST folder to use by default.
SOURCE_ENV = 'WSV_FASHION_MNIST'

_IDX_UBYTE = 0x08
_FILES = {
    'train': ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
    'test': ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'),
}


def read_idx(path: str, expected_ndim: int) -> np.ndarray:
    """Read an unsigned-byte IDX file (optionally ``.gz``) into a uint8 array.

    Raises ``DataError`` naming ``path`` on a bad magic number, an unexpected
    number of dimensions or a size that does not match the header.
    """
    opener = gzip.open if path.endswith('.gz') else open
    try:
        with opener(path, 'rb') as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise DataError(f'cannot read IDX file {path}: {e}') from None
    if len(raw) < 4:
        raise DataError(f'IDX file {path} is truncated ({len(raw)} bytes)')
    zero0, zero1, dtype_code, ndim = raw[:4]
    if zero0 or zero1 or dtype_code != _IDX_UBYTE or ndim != expected_ndim:
        magic = int.from_bytes(raw[:4], 'big')
        expected = (_IDX_UBYTE << 8) | expected_ndim
        raise DataError(f'IDX file {path} has magic number 0x{magic:08x}; '
                        f'expected 0x{expected:08x} (unsigned bytes, '
                        f'{expected_ndim} dimensions)')
    header_len = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], 'big')
                  for i in range(ndim))
    if len(raw) != header_len + int(np.prod(shape)):
        raise DataError(f'IDX file {path} holds {len(raw) - header_len} data '
                        f'bytes; its header declares shape {shape}')
    return np.frombuffer(raw, dtype=np.uint8, offset=header_len).reshape(shape)


def default_source() -> str:
    """``$WSV_FASHION_MNIST`` if set, else Debian's ``DEFAULT_SOURCE``."""
    return os.environ.get(SOURCE_ENV, DEFAULT_SOURCE)


def resolve_source(source=None) -> str:
    """Return the folder holding the four Fashion-MNIST IDX files.

    ``source`` may be that folder, or a torchvision root holding
    ``FashionMNIST/raw``. ``None`` means ``default_source()``.
    """
    folder = default_source() if source is None else os.fspath(source)
    check_dir(folder, 'Fashion-MNIST folder')
    torchvision_raw = os.path.join(folder, 'FashionMNIST', 'raw')
    return torchvision_raw if os.path.isdir(torchvision_raw) else folder


def _idx_path(folder: str, stem: str) -> str:
    for name in (stem + '.gz', stem):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    raise DataError(f'Fashion-MNIST file not found: '
                    f'{os.path.join(folder, stem)}[.gz]')


@dataclass(frozen=True)
class FashionMNISTSplit:
    """One Fashion-MNIST split: ``images`` (N, 28, 28) uint8, ``labels`` (N,)
    uint8 in 0..9. Both arrays are read-only (they are cached and shared)."""
    images: np.ndarray
    labels: np.ndarray


@functools.lru_cache(maxsize=4)
def _load_cached(folder: str, split: str, mtimes: tuple) -> FashionMNISTSplit:
    image_stem, label_stem = _FILES[split]
    image_path = _idx_path(folder, image_stem)
    label_path = _idx_path(folder, label_stem)
    images = read_idx(image_path, expected_ndim=3)
    labels = read_idx(label_path, expected_ndim=1)
    if len(images) != len(labels):
        raise DataError(f'{image_path} holds {len(images)} images but '
                        f'{label_path} holds {len(labels)} labels')
    if labels.size and labels.max() >= len(FASHION_CLASSES):
        raise DataError(f'{label_path} holds label {int(labels.max())}; '
                        f'expected 0..{len(FASHION_CLASSES) - 1}')
    return FashionMNISTSplit(images=images, labels=labels)


def load_fashion_mnist(split: str, source=None) -> FashionMNISTSplit:
    """Load Fashion-MNIST ``split`` ('train' or 'test') from ``source``.

    The result is cached per folder and file modification time, so building
    several splits or variants reads the files once.
    """
    if split not in _FILES:
        raise ValueError(f'Fashion-MNIST split must be one of {sorted(_FILES)}, '
                         f'got {split!r}')
    folder = resolve_source(source)
    paths = [_idx_path(folder, stem) for stem in _FILES[split]]
    mtimes = tuple(os.stat(p).st_mtime_ns for p in paths)
    return _load_cached(folder, split, mtimes)
