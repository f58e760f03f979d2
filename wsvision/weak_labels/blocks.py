"""Block labels: keep a fraction p of every region in grid blocks.

This is the Cityscapes block50/20/10 protocol.
"""
from typing import List, Optional

import numpy as np

from ..registry import WEAK_LABELERS
from ..structures import IGNORE_INDEX
from .base import Instance, WeakLabel, WeakLabeler, new_sparse_mask
from .regions import label_class_components

__all__ = ['BlockLabeler', 'select_cells']


def select_cells(cell_region: np.ndarray, cell_size: np.ndarray,
                 fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Pick cells so each region keeps about ``fraction`` of its pixels.

    cell_region: (M,) region id of each cell, sorted ascending; cell_size: (M,)
    pixels per cell. Regions are visited in random order; within a region the
    cells are shuffled and the prefix whose size is closest to the region's
    target is kept. The target is ``fraction`` of the region plus the
    rounding error carried over from the regions before (error diffusion), so
    the error never accumulates: the kept total is within half the largest
    cell of ``fraction`` of all pixels. Returns (M,) bool.
    """
    keep = np.zeros(len(cell_size), dtype=bool)
    _, region_start, region_cells = np.unique(cell_region, return_index=True,
                                              return_counts=True)
    carried = 0.0
    for region in rng.permutation(len(region_start)):
        start = region_start[region]
        cells = start + rng.permutation(region_cells[region])
        kept_so_far = np.concatenate([[0], np.cumsum(cell_size[cells])])
        target = fraction * kept_so_far[-1] + carried
        count = int(np.argmin(np.abs(kept_so_far - target)))
        keep[cells[:count]] = True
        carried = target - kept_so_far[count]
    return keep


@WEAK_LABELERS.register_module()
class BlockLabeler(WeakLabeler):
    """Keep ``fraction`` of every region as whole grid blocks (blocks50/20/10).

    The image is cut into square blocks, ``grid`` of them along its shorter
    side (side ``ceil(min(H, W) / grid)`` px), so the protocol scales with the
    image: 8 px blocks on a 128 px FashionScenes scene, 64 px blocks on a
    1024 x 2048 Cityscapes frame. A region is an 8-connected component of one
    class (background included); a cell is the part of a region inside one
    block. Each region keeps randomly chosen cells adding up to about
    ``fraction`` of it (``select_cells``), so every class keeps its share, as
    in the Cityscapes block protocol. Over the image the number of labelled
    pixels is within half a block of ``fraction`` times the number of
    non-ignored pixels: on a 128 x 128 image without ignored pixels, 32 of
    16384 pixels, 0.2 percentage points. Instances are not used.
    """

    def __init__(self, *, fraction: float = 0.5, grid: int = 16,
                 ignore_index: Optional[int] = 255,
                 background_id: Optional[int] = 0):
        super().__init__(ignore_index=ignore_index, background_id=background_id)
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f'BlockLabeler: fraction must be in [0, 1], got '
                             f'{fraction}')
        if grid < 1:
            raise ValueError(f'BlockLabeler: grid must be >= 1, got {grid}')
        self.fraction = fraction
        self.grid = grid

    def block_size(self, shape: tuple) -> int:
        """Side in px of the square blocks for an image of (H, W) ``shape``."""
        return -(-min(shape) // self.grid)

    def _generate(self, semantic: np.ndarray,
                  instances: Optional[List[Instance]],
                  rng: Optional[np.random.Generator]) -> WeakLabel:
        sparse = new_sparse_mask(semantic)
        regions, _ = label_class_components(semantic, exclude=(IGNORE_INDEX,))
        ys, xs = np.nonzero(regions)
        side = self.block_size(semantic.shape)
        blocks_per_row = -(-semantic.shape[1] // side)
        block = (ys // side) * blocks_per_row + xs // side
        blocks_total = blocks_per_row * -(-semantic.shape[0] // side)
        # One key per (region, block) cell; np.unique sorts them by region.
        cells, pixel_cell, cell_size = np.unique(
            regions[ys, xs].astype(np.int64) * blocks_total + block,
            return_inverse=True, return_counts=True)
        keep = select_cells(cells // blocks_total, cell_size, self.fraction,
                            rng)[pixel_cell]
        sparse[ys[keep], xs[keep]] = semantic[ys[keep], xs[keep]]
        return WeakLabel(sparse_mask=sparse)
