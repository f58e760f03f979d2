"""A single path along a region's medial axis, the centre line of a scribble.

An annotator scribbles through the middle of an object, along its longest
extent. The path here is built from the distance transform instead of a
thinning algorithm (no skimage here, and thinning leaves spurs and can erase
small blobs):

1. The endpoints are the two ends of the region's geodesic diameter, found by
   a double sweep: the pixel farthest (inside the region) from the deepest
   pixel, then the pixel farthest from that one.
2. The path between them is the cheapest 8-connected path when a step between
   pixels of depths d1 and d2 costs its length times the mean of 1/d1^2 and
   1/d2^2, so it runs along the ridge of the distance transform (the medial
   axis) and crosses to the boundary only at its ends.
3. The ends, which sit on the boundary, are trimmed back to the first and last
   path pixel deeper than ``margin``.

Regions larger than ``_MAX_GRAPH_PIXELS`` (a Cityscapes road) are traced on a
coarse grid of whole blocks inside the region and the path is mapped back to
full resolution, which keeps the shortest-path searches small.
"""
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from .regions import deep_pixels, depth_map, largest_component

__all__ = ['medial_path']

# The four forward 8-neighbour offsets (dy, dx); with undirected graphs the
# other four are implied.
_NEIGHBOUR_OFFSETS = ((0, 1), (1, 0), (1, 1), (1, -1))

# Above this many pixels the three shortest-path searches take seconds, while a
# coarse grid of this size still follows the shape of any region closely.
_MAX_GRAPH_PIXELS = 40_000


def _neighbour_pairs(index: np.ndarray):
    """Edges between 8-adjacent region pixels.

    index: int64 (H, W), the node number of each region pixel and -1 outside.
    Returns ``(source, target, length)`` 1-D arrays, one entry per edge.
    """
    height, width = index.shape
    sources, targets, lengths = [], [], []
    for dy, dx in _NEIGHBOUR_OFFSETS:
        source = index[:height - dy, max(0, -dx):width - max(0, dx)]
        target = index[dy:, max(0, dx):width - max(0, -dx)]
        both = (source >= 0) & (target >= 0)
        sources.append(source[both])
        targets.append(target[both])
        lengths.append(np.full(int(both.sum()), np.hypot(dy, dx)))
    return (np.concatenate(sources), np.concatenate(targets),
            np.concatenate(lengths))


def _ridge_path(region: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """Steps 1 and 2 on a non-empty 8-connected region; (L, 2) (y, x) pixels."""
    ys, xs = np.nonzero(region)
    if len(ys) == 1:
        return np.array([[ys[0], xs[0]]], dtype=np.int64)
    index = np.full(region.shape, -1, dtype=np.int64)
    index[ys, xs] = np.arange(len(ys))
    source, target, length = _neighbour_pairs(index)
    node_depth = depth[ys, xs]
    shape = (len(ys), len(ys))
    geodesic = csr_matrix((length, (source, target)), shape=shape)
    ridge_cost = length * 0.5 * (node_depth[source] ** -2.0
                                 + node_depth[target] ** -2.0)
    ridge = csr_matrix((ridge_cost, (source, target)), shape=shape)

    deepest = int(np.argmax(node_depth))
    first_end = int(np.argmax(dijkstra(geodesic, directed=False,
                                       indices=deepest)))
    second_end = int(np.argmax(dijkstra(geodesic, directed=False,
                                        indices=first_end)))
    _, predecessors = dijkstra(ridge, directed=False, indices=first_end,
                               return_predecessors=True)
    nodes = [second_end]
    while nodes[-1] != first_end:
        nodes.append(int(predecessors[nodes[-1]]))
    return np.stack([ys[nodes], xs[nodes]], axis=1).astype(np.int64)


def _coarse_ridge_path(region: np.ndarray, factor: int):
    """The ridge path traced on ``factor`` x ``factor`` blocks, at full resolution.

    A coarse pixel is a block lying wholly inside ``region``. Consecutive
    coarse pixels are 8-adjacent, so the full-resolution path walks from one
    block centre to the next in unit steps along a row, column or diagonal,
    through the two blocks only: it stays inside ``region`` and 8-connected.
    Returns ``None`` when no block fits (a long, thin region).
    """
    rows, cols = region.shape[0] // factor, region.shape[1] // factor
    blocks = region[:rows * factor, :cols * factor].reshape(
        rows, factor, cols, factor).all(axis=(1, 3))
    if not blocks.any():
        return None
    blocks = largest_component(blocks)
    centres = _ridge_path(blocks, depth_map(blocks)) * factor + (factor - 1) // 2
    steps = np.arange(factor)[:, None, None]
    directions = np.sign(np.diff(centres, axis=0))
    walk = (centres[:-1] + steps * directions).transpose(1, 0, 2)
    return np.concatenate([walk.reshape(-1, 2), centres[-1:]])


def medial_path(region: np.ndarray, margin: float) -> np.ndarray:
    """The medial-axis path of one 8-connected region.

    region: (H, W) bool, non-empty and 8-connected. Returns int64 (L, 2) (y, x)
    pixels, consecutive ones 8-adjacent, all inside ``region``.
    """
    depth = depth_map(region)
    factor = int(np.ceil(np.sqrt(np.count_nonzero(region) / _MAX_GRAPH_PIXELS)))
    path = _coarse_ridge_path(region, factor) if factor > 1 else None
    if path is None:
        path = _ridge_path(region, depth)
    deep = deep_pixels(depth[path[:, 0], path[:, 1]], margin)
    first, last = np.flatnonzero(deep)[[0, -1]]
    return path[first:last + 1]
