"""Scenes with dense ground truth for the weak-label tests.

- ``shapes_scene``: hand-made shapes that exercise the hard cases: touching
  instances of one class and of two classes, 1 px and 3 px wide objects, a
  diagonal line, an instance split in two by an occluder, ignored pixels
  inside instance masks and along the frame.
- ``fashion_scenes``: FashionScenes-like scenes composited from real
  Fashion-MNIST items (silhouettes with holes filled, random sizes and
  positions, later items occluding earlier ones). Skipped when the
  Fashion-MNIST files are not installed.
"""
import gzip
import os
from dataclasses import dataclass
from typing import List

import cv2
import numpy as np
import pytest
from scipy import ndimage

from wsvision.weak_labels import Instance

FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist'


@dataclass
class Scene:
    semantic: np.ndarray  # uint8 (H, W), 255 = ignored
    instances: List[Instance]


def compose(shape, layers, ignore=None) -> Scene:
    """Paint (mask, class) layers in order; later layers occlude earlier ones.

    Instance masks are the visible parts. ``ignore`` pixels become 255 in the
    semantic mask but stay in the instance masks, as in datasets whose
    instance and semantic annotations disagree.
    """
    owner = np.full(shape, -1)
    for index, (mask, _) in enumerate(layers):
        owner[mask] = index
    semantic = np.zeros(shape, dtype=np.uint8)
    instances = []
    for index, (_, class_id) in enumerate(layers):
        visible = owner == index
        semantic[visible] = class_id
        if visible.any():
            instances.append(Instance(visible, class_id))
    if ignore is not None:
        semantic[ignore] = 255
    return Scene(semantic, instances)


def box(shape, y0, y1, x0, x1) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


@pytest.fixture(scope='session')
def shapes_scene() -> Scene:
    shape = (96, 96)
    yy, xx = np.mgrid[:96, :96]
    ellipse = ((yy - 70) / 14.0) ** 2 + ((xx - 22) / 10.0) ** 2 <= 1
    diagonal = (yy == xx) & (yy >= 62) & (yy < 90) & (xx >= 62)
    ignore = np.zeros(shape, dtype=bool)
    ignore[:, :2] = True            # padding along the frame
    ignore[14:17, 20:26] = True     # "do not care" pixels inside an instance
    layers = [
        (box(shape, 8, 30, 6, 30), 1),      # two touching instances of class 1
        (box(shape, 8, 30, 30, 50), 1),
        (ellipse, 2),
        (box(shape, 60, 84, 32, 40), 8),    # touches the ellipse, other class
        (box(shape, 40, 41, 8, 50), 3),     # 1 px wide line
        (box(shape, 48, 51, 8, 50), 4),     # 3 px wide strap
        (diagonal, 5),                      # 1 px wide diagonal
        (box(shape, 8, 40, 60, 90), 6),     # split in two by the next layer
        (box(shape, 20, 26, 56, 96), 7),
    ]
    return compose(shape, layers, ignore)


def _read_idx(path: str, header: int) -> np.ndarray:
    with gzip.open(path, 'rb') as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=header)


@pytest.fixture(scope='session')
def fashion_scenes() -> List[Scene]:
    images_path = os.path.join(FASHION_MNIST_DIR, 't10k-images-idx3-ubyte.gz')
    labels_path = os.path.join(FASHION_MNIST_DIR, 't10k-labels-idx1-ubyte.gz')
    if not (os.path.isfile(images_path) and os.path.isfile(labels_path)):
        pytest.skip(f'Fashion-MNIST is not installed in {FASHION_MNIST_DIR}')
    items = _read_idx(images_path, 16)[:64 * 28 * 28].reshape(64, 28, 28)
    labels = _read_idx(labels_path, 8)[:64]
    rng = np.random.default_rng(7)
    size = 96
    scenes = []
    for _ in range(4):
        layers = []
        for _ in range(int(rng.integers(2, 5))):
            index = int(rng.integers(len(items)))
            side = int(rng.integers(20, 48))
            item = cv2.resize(items[index], (side, side),
                              interpolation=cv2.INTER_LINEAR)
            silhouette = ndimage.binary_fill_holes(item > 30)
            y, x = rng.integers(0, size - side, size=2)
            mask = np.zeros((size, size), dtype=bool)
            mask[y:y + side, x:x + side] = silhouette
            layers.append((mask, int(labels[index]) + 1))
        scenes.append(compose((size, size), layers))
    return scenes


@pytest.fixture(params=['shapes_scene', 'fashion_scenes'])
def scene_set(request) -> List[Scene]:
    """Each of the scene collections above in turn, as a list."""
    scenes = request.getfixturevalue(request.param)
    return scenes if isinstance(scenes, list) else [scenes]
