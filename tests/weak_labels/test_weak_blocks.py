import numpy as np
import pytest

from wsvision.structures import UNLABELLED
from wsvision.weak_labels import BlockLabeler
from wsvision.weak_labels.blocks import select_cells
from wsvision.weak_labels.regions import label_class_components


@pytest.mark.parametrize('fraction', [0.5, 0.2, 0.1])
def test_labelled_fraction_is_within_2_points_of_p(scene_set, fraction):
    for scene in scene_set:
        for seed in range(5):
            weak = BlockLabeler(fraction=fraction)(
                scene.semantic, None, np.random.default_rng(seed))
            labellable = np.count_nonzero(scene.semantic != 255)
            labelled = np.count_nonzero(weak.sparse_mask < UNLABELLED)
            assert weak.labelled_fraction == labelled / labellable
            assert abs(weak.labelled_fraction - fraction) <= 0.02


def test_whole_cells_are_kept(shapes_scene):
    labeler = BlockLabeler(fraction=0.2)
    sparse = labeler(shapes_scene.semantic, None,
                     np.random.default_rng(0)).sparse_mask
    side = labeler.block_size(sparse.shape)
    assert side == 6                                  # ceil(96 / 16)
    regions, _ = label_class_components(shapes_scene.semantic, exclude=(255,))
    labelled = sparse < UNLABELLED
    for y in range(0, 96, side):
        for x in range(0, 96, side):
            block_regions = regions[y:y + side, x:x + side]
            block_labelled = labelled[y:y + side, x:x + side]
            for region in np.unique(block_regions[block_regions > 0]):
                kept = block_labelled[block_regions == region]
                assert kept.all() or not kept.any()


def test_every_large_region_keeps_about_p(shapes_scene):
    sparse = BlockLabeler(fraction=0.5)(shapes_scene.semantic, None,
                                        np.random.default_rng(0)).sparse_mask
    regions, _ = label_class_components(shapes_scene.semantic, exclude=(255,))
    sizes = np.bincount(regions.ravel())
    for region in np.flatnonzero(sizes >= 300):
        if region == 0:
            continue
        kept = np.mean(sparse[regions == region] < UNLABELLED)
        assert abs(kept - 0.5) <= 0.15


def test_select_cells_by_hand():
    # One region of four 5 px cells at 0.5: exactly two cells, chosen at random.
    chosen = {tuple(np.flatnonzero(select_cells(
        np.zeros(4, int), np.full(4, 5), 0.5, np.random.default_rng(seed))))
        for seed in range(20)}
    assert all(len(cells) == 2 for cells in chosen) and len(chosen) > 1
    # Two single-cell regions of 10 px at 0.5: the first region's rounding
    # error (+-5 px) is carried, so exactly one of them is kept.
    keep = select_cells(np.array([0, 1]), np.array([10, 10]), 0.5,
                        np.random.default_rng(0))
    assert keep.sum() == 1


def test_select_cells_error_is_at_most_half_the_largest_cell():
    rng = np.random.default_rng(0)
    for _ in range(200):
        count = int(rng.integers(1, 60))
        cell_region = np.sort(rng.integers(0, 8, count))
        cell_size = rng.integers(1, 40, count)
        fraction = float(rng.uniform(0, 1))
        keep = select_cells(cell_region, cell_size, fraction, rng)
        error = cell_size[keep].sum() - fraction * cell_size.sum()
        assert abs(error) <= cell_size.max() / 2 + 1e-9
