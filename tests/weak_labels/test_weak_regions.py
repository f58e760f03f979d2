import numpy as np
import pytest

from wsvision.weak_labels.medial_axis import medial_path
from wsvision.weak_labels.regions import (deep_pixels, depth_map, disc,
                                          interior, label_class_components,
                                          largest_component, sample_pixels,
                                          stroke_mask)


def rectangle(height, width, shape=None):
    region = np.zeros(shape or (height, width), dtype=bool)
    region[:height, :width] = True
    return region


def test_depth_map_counts_the_frame_as_outside():
    depth = depth_map(rectangle(5, 7))
    # Row 2 of a 5-row block is 3 px from the frame above and below.
    np.testing.assert_allclose(depth[2], [1, 2, 3, 3, 3, 2, 1])
    np.testing.assert_allclose(depth[:, 3], [1, 2, 3, 2, 1])


def test_deep_pixels_falls_back_to_the_deepest():
    depth = np.array([0.0, 1.0, 2.0, 2.0, 1.0, 0.0])
    np.testing.assert_array_equal(deep_pixels(depth, 1.5), depth > 1.5)
    np.testing.assert_array_equal(deep_pixels(depth, 2), depth == 2)
    assert not deep_pixels(np.zeros(4), 2).any()


def test_interior_pixels_have_the_margin_inside():
    region = rectangle(10, 12, shape=(14, 16))
    inner = interior(region, 2)
    # More than 2 px from the boundary: rows 2..7 and columns 2..9 (depth >= 3).
    expected = np.zeros_like(region)
    expected[2:8, 2:10] = True
    np.testing.assert_array_equal(inner, expected)


def test_sample_pixels_is_distinct_and_inside():
    mask = rectangle(3, 3, shape=(8, 8))
    picks = sample_pixels(mask, 20, np.random.default_rng(0))
    assert picks.shape == (9, 2)
    assert len({tuple(p) for p in picks}) == 9
    assert mask[picks[:, 0], picks[:, 1]].all()


def test_largest_component_uses_8_connectivity():
    mask = np.zeros((6, 6), dtype=bool)
    mask[0, 0] = mask[1, 1] = mask[2, 2] = True     # diagonal: one component
    mask[5, 3:6] = True
    np.testing.assert_array_equal(largest_component(mask),
                                  np.eye(6, dtype=bool) & (np.arange(6) < 3))


def test_label_class_components_numbers_all_classes_together():
    semantic = np.array([[1, 1, 0, 2],
                         [0, 0, 0, 2],
                         [1, 0, 255, 0]], dtype=np.uint8)
    components, classes = label_class_components(semantic, exclude=(0, 255))
    assert classes == [1, 1, 2]
    np.testing.assert_array_equal(components, [[1, 1, 0, 3],
                                               [0, 0, 0, 3],
                                               [2, 0, 0, 0]])


def test_disc_is_euclidean():
    assert disc(0).tolist() == [[1]]
    assert int(disc(2).sum()) == 13
    assert disc(1).tolist() == [[0, 1, 0], [1, 1, 1], [0, 1, 0]]


def test_stroke_mask_is_clipped_and_stays_on_the_centre_side():
    # Two arms of a U with a 1 px gap: a radius-2 disc around a pixel of the
    # left arm reaches the right arm, which must not be labelled.
    region = np.zeros((7, 7), dtype=bool)
    region[:, 1:3] = True
    region[:, 4:6] = True
    region[6, 1:6] = True
    stroke = stroke_mask(np.array([[1, 2]]), region, 2)
    # The disc of radius 2 around (1, 2) holds (1, 4) of the right arm too.
    assert sorted(zip(*np.nonzero(stroke))) == [
        (0, 1), (0, 2), (1, 1), (1, 2), (2, 1), (2, 2), (3, 2)]
    with pytest.raises(ValueError, match='inside the region'):
        stroke_mask(np.array([[0, 0]]), region, 1)


def test_medial_path_follows_the_centre_line_of_a_bar():
    path = medial_path(rectangle(9, 41), margin=2)
    assert (np.abs(np.diff(path, axis=0)) <= 1).all()       # 8-connected
    middle = (path[:, 1] >= 4) & (path[:, 1] <= 36)
    assert (path[middle, 0] == 4).all()                      # on the ridge
    assert path[:, 1].min() <= 3 and path[:, 1].max() >= 37  # end to end
    # Ends are trimmed to pixels more than 2 px inside.
    assert (depth_map(rectangle(9, 41))[path[:, 0], path[:, 1]] > 2).all()


def test_medial_path_of_an_l_shape_turns_the_corner():
    region = np.zeros((40, 40), dtype=bool)
    region[0:7, 0:40] = True
    region[0:40, 0:7] = True
    path = medial_path(region, margin=2)
    assert region[path[:, 0], path[:, 1]].all()
    assert (np.abs(np.diff(path, axis=0)) <= 1).all()
    # It runs along both arms: near the far end of each.
    assert path[:, 1].max() >= 35 and path[:, 0].max() >= 35


def test_medial_path_of_thin_and_tiny_regions():
    line = np.zeros((5, 20), dtype=bool)
    line[2, 3:17] = True
    path = medial_path(line, margin=2)
    assert sorted(path[:, 1].tolist()) == list(range(3, 17))
    dot = np.zeros((3, 3), dtype=bool)
    dot[1, 1] = True
    assert medial_path(dot, margin=2).tolist() == [[1, 1]]


def test_medial_path_of_a_large_region_is_traced_coarsely():
    # 60,000 pixels: traced on 2 x 2 blocks, mapped back to full resolution.
    region = rectangle(151, 400, shape=(160, 410))
    region[60:90, 150:250] = False                  # a hole in the middle
    path = medial_path(region, margin=2)
    assert region[path[:, 0], path[:, 1]].all()
    assert (np.abs(np.diff(path, axis=0)) <= 1).all()
    assert path[:, 1].min() <= 80 and path[:, 1].max() >= 320
    assert (depth_map(region)[path[:, 0], path[:, 1]] > 2).all()
