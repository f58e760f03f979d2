import numpy as np
import pytest
from scipy import ndimage

from wsvision.structures import UNLABELLED
from wsvision.weak_labels import ScribbleLabeler
from wsvision.weak_labels.base import agreeing_region
from wsvision.weak_labels.regions import depth_map, largest_component
from wsvision.weak_labels.scribbles import smooth_random_path

EIGHT = np.ones((3, 3), dtype=bool)


def component_count(mask):
    return ndimage.label(mask, structure=EIGHT)[1]


@pytest.mark.parametrize('width', [1, 3, 5])
def test_every_instance_gets_one_connected_stroke(scene_set, width):
    for seed, scene in enumerate(scene_set):
        sparse = ScribbleLabeler(width=width)(
            scene.semantic, scene.instances,
            np.random.default_rng(seed)).sparse_mask
        labelled = sparse < UNLABELLED
        for instance in scene.instances:
            region = agreeing_region(instance, scene.semantic)
            stroke = labelled & instance.mask
            assert stroke.any()
            assert component_count(stroke) == 1
            # The stroke lies in the instance's largest part.
            assert not (stroke & ~largest_component(region)).any()


def test_strokes_run_along_the_objects(shapes_scene):
    sparse = ScribbleLabeler(width=1)(shapes_scene.semantic,
                                      shapes_scene.instances,
                                      np.random.default_rng(0)).sparse_mask
    # 3 px strap (rows 48..50, columns 8..49): along its middle row, most of
    # its length.
    strap = np.argwhere(sparse == 4)
    assert (strap[:, 0] == 49).all()
    assert strap[:, 1].min() <= 10 and strap[:, 1].max() >= 47
    # 1 px diagonal from (62, 62) to (89, 89): all of it.
    assert np.count_nonzero(sparse == 5) == 28
    # The ellipse (rows 56..84): along its long, vertical axis.
    ellipse = np.argwhere(sparse == 2)
    assert np.ptp(ellipse[:, 0]) >= 20 and np.ptp(ellipse[:, 1]) <= 4
    # The class-6 box split by an occluder: only its larger, lower part.
    assert np.argwhere(sparse == 6)[:, 0].min() >= 26


def test_width_thickens_the_stroke(shapes_scene):
    def pixels(width):
        sparse = ScribbleLabeler(width=width, num_background=0)(
            shapes_scene.semantic, shapes_scene.instances,
            np.random.default_rng(0)).sparse_mask
        return np.count_nonzero(sparse == 2)

    thin, medium, thick = pixels(1), pixels(3), pixels(5)
    assert thin < medium < thick
    # A vertical centre line thickened by a radius-1 disc is 3 columns wide.
    assert medium == pytest.approx(3 * thin, rel=0.15)


def test_background_strokes(shapes_scene):
    semantic = shapes_scene.semantic
    for count in (1, 3):
        sparse = ScribbleLabeler(num_background=count)(
            semantic, shapes_scene.instances,
            np.random.default_rng(2)).sparse_mask
        background = sparse == 0
        assert 1 <= component_count(background) <= count
        # Centre lines are more than 2 px from objects; a width-3 pen adds 1.
        depth = depth_map(semantic == 0)
        assert (depth[background] > 1).all()
        # Strokes have length: far more than a pen's dot each.
        assert np.count_nonzero(background) > 10 * count
    no_background = ScribbleLabeler(background_id=None)(
        semantic, shapes_scene.instances, np.random.default_rng(2))
    assert not (no_background.sparse_mask == 0).any()


def test_smooth_random_path_is_connected_and_stays_inside():
    allowed = np.zeros((60, 60), dtype=bool)
    allowed[5:55, 5:55] = True
    allowed[25:35, 25:35] = False
    for seed in range(10):
        path = smooth_random_path(allowed, 80, 0.1, np.random.default_rng(seed))
        assert allowed[path[:, 0], path[:, 1]].all()
        assert (np.abs(np.diff(path, axis=0)) <= 1).all()
        assert len(path) <= 81
    path = smooth_random_path(allowed, 0, 0.1, np.random.default_rng(0))
    assert len(path) == 1
