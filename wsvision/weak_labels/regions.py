"""Region geometry shared by the weak-label generators.

Regions are (H, W) bool masks; pixel coordinates are int64 (N, 2) arrays in
(y, x) order. Connectivity is 8 everywhere, so a one-pixel-wide diagonal
object is one region and a stroke along it is one connected stroke.
"""
from typing import Iterable, List, Optional, Tuple

import cv2
import numpy as np
from scipy import ndimage

__all__ = ['depth_map', 'deep_pixels', 'interior', 'sample_pixels',
           'bounding_slices', 'largest_component', 'label_class_components',
           'disc', 'stroke_mask']


def depth_map(region: np.ndarray) -> np.ndarray:
    """Euclidean distance from each region pixel to the nearest pixel outside.

    The image frame counts as outside, so a click is never placed against the
    edge of a truncated object. region: (H, W) bool; returns (H, W) float64,
    0 outside the region and >= 1 inside.
    """
    padded = np.pad(region, 1, constant_values=False)
    return ndimage.distance_transform_edt(padded)[1:-1, 1:-1]


def deep_pixels(depth: np.ndarray, margin: float) -> np.ndarray:
    """Where ``depth > margin``; where nothing is that deep, the deepest entries.

    ``depth > margin`` means every pixel within distance ``margin`` belongs to
    the region. Thin objects (a 3 px wide strap has depth <= 2) have no such
    pixel, and they still must get a label, so the fallback is the set of
    maximal-depth entries. Entries with depth 0 (outside) are never returned.
    """
    deep = depth > margin
    if deep.any():
        return deep
    peak = depth.max(initial=0.0)
    return (depth == peak) & (depth > 0)


def interior(region: np.ndarray, margin: float) -> np.ndarray:
    """(H, W) bool pixels more than ``margin`` px inside ``region``.

    See ``deep_pixels`` for the meaning of the margin and the fallback.
    """
    return deep_pixels(depth_map(region), margin)


def sample_pixels(mask: np.ndarray, count: int,
                  rng: np.random.Generator) -> np.ndarray:
    """Up to ``count`` distinct pixels of ``mask``, uniformly; (n, 2) (y, x)."""
    ys, xs = np.nonzero(mask)
    chosen = rng.choice(len(ys), size=min(count, len(ys)), replace=False)
    return np.stack([ys[chosen], xs[chosen]], axis=1).astype(np.int64)


def bounding_slices(mask: np.ndarray) -> Tuple[slice, slice]:
    """Tight (rows, cols) slices around a non-empty (H, W) mask.

    Per-object work runs inside this crop: every pixel outside it is outside
    the object, so depths, paths and strokes are the same as on the full image
    and cost scales with the object, not the image.
    """
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _components(mask: np.ndarray) -> Tuple[int, np.ndarray]:
    """(number of labels incl. 0, int32 (H, W) labels) of 8-connected components."""
    return cv2.connectedComponents(mask.astype(np.uint8), connectivity=8,
                                   ltype=cv2.CV_32S)


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 8-connected component of a non-empty (H, W) bool mask.

    Ties go to the component met first in raster order, so the result is
    deterministic.
    """
    count, labels = _components(mask)
    sizes = np.bincount(labels.ravel(), minlength=count)[1:]
    return labels == 1 + int(np.argmax(sizes))


def label_class_components(semantic: np.ndarray,
                           exclude: Iterable[Optional[int]] = ()
                           ) -> Tuple[np.ndarray, List[int]]:
    """8-connected components of every class present, numbered together.

    semantic: uint8 (H, W). Returns ``components`` int32 (H, W), 0 where the
    class is excluded and 1..R elsewhere, and ``classes``: the class id of
    component r at index r - 1. ``None`` entries of ``exclude`` are skipped.
    """
    excluded = [value for value in exclude if value is not None]
    components = np.zeros(semantic.shape, dtype=np.int32)
    classes: List[int] = []
    for class_id in np.unique(semantic):
        if class_id in excluded:
            continue
        count, labels = _components(semantic == class_id)
        inside = labels > 0
        components[inside] = labels[inside] + len(classes)
        classes.extend([int(class_id)] * (count - 1))
    return components, classes


def disc(radius: int) -> np.ndarray:
    """uint8 (2r+1, 2r+1) kernel of the pixels within Euclidean distance ``radius``."""
    offsets = np.arange(-radius, radius + 1)
    return (offsets[:, None] ** 2 + offsets[None, :] ** 2
            <= radius ** 2).astype(np.uint8)


def stroke_mask(centres: np.ndarray, region: np.ndarray,
                radius: int) -> np.ndarray:
    """Pixels within ``radius`` of ``centres``, kept in ``region``.

    centres: (n, 2) (y, x) pixels, all inside ``region`` (H, W) bool. A disc
    around a centre can reach across a narrow gap into another part of the
    region; only the parts of the clipped stroke that contain a centre are kept,
    so a connected path stays one connected stroke. Returns (H, W) bool.
    """
    if not region[centres[:, 0], centres[:, 1]].all():
        raise ValueError('stroke centres must lie inside the region')
    pen = np.zeros(region.shape, dtype=np.uint8)
    pen[centres[:, 0], centres[:, 1]] = 1
    if radius > 0:
        pen = cv2.dilate(pen, disc(radius))
    _, labels = _components(pen.astype(bool) & region)
    return np.isin(labels, labels[centres[:, 0], centres[:, 1]])
