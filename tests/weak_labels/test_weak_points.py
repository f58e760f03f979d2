import numpy as np

from wsvision.structures import UNLABELLED
from wsvision.weak_labels import PointLabeler
from wsvision.weak_labels.base import agreeing_region
from wsvision.weak_labels.regions import depth_map, label_class_components


def clicks_per_instance(sparse, scene):
    """(instance, region, labelled pixels inside the instance) triples."""
    labelled = sparse < UNLABELLED
    for instance in scene.instances:
        region = agreeing_region(instance, scene.semantic)
        yield instance, region, np.argwhere(labelled & instance.mask)


def test_one_click_per_instance_more_than_2px_inside(scene_set):
    for seed, scene in enumerate(scene_set):
        sparse = PointLabeler()(scene.semantic, scene.instances,
                                np.random.default_rng(seed)).sparse_mask
        for instance, region, clicks in clicks_per_instance(sparse, scene):
            if not region.any():
                assert len(clicks) == 0
                continue
            assert len(clicks) == 1
            depth = depth_map(region)
            y, x = clicks[0]
            if depth.max() > 2:
                # Every pixel within 2 px of the click is in the instance.
                assert depth[y, x] > 2
            else:
                # Thin objects: one of the deepest pixels.
                assert depth[y, x] == depth.max()


def test_thin_objects_get_a_click_on_their_centre_line(shapes_scene):
    sparse = PointLabeler()(shapes_scene.semantic, shapes_scene.instances,
                            np.random.default_rng(0)).sparse_mask
    strap = np.argwhere(sparse == 4)            # rows 48..50 of class 4
    assert strap.shape == (1, 2) and strap[0, 0] == 49
    assert np.argwhere(sparse == 3)[:, 0].tolist() == [40]   # 1 px line
    diagonal = np.argwhere(sparse == 5)
    assert len(diagonal) == 1 and diagonal[0, 0] == diagonal[0, 1]


def test_background_clicks_are_away_from_objects(shapes_scene):
    for count in (0, 3, 7):
        sparse = PointLabeler(num_background=count)(
            shapes_scene.semantic, shapes_scene.instances,
            np.random.default_rng(1)).sparse_mask
        clicks = np.argwhere(sparse == 0)
        assert len(clicks) == count
        # More than 2 px from any object, ignored pixel or the frame.
        depth = depth_map(shapes_scene.semantic == 0)
        assert (depth[clicks[:, 0], clicks[:, 1]] > 2).all()


def test_no_background_clicks_without_a_background_class(shapes_scene):
    sparse = PointLabeler(background_id=None)(
        shapes_scene.semantic, None, np.random.default_rng(0)).sparse_mask
    # Every class is an object class: one click per connected component,
    # background (class 0) included.
    _, classes = label_class_components(shapes_scene.semantic,
                                        exclude=(255,))
    labelled = sparse[sparse < UNLABELLED]
    assert len(labelled) == len(classes)
    assert sorted(labelled.tolist()) == sorted(classes)


def test_components_replace_missing_instances(shapes_scene):
    sparse = PointLabeler()(shapes_scene.semantic, None,
                            np.random.default_rng(0)).sparse_mask
    # The two touching class-1 boxes are one component, so one click.
    assert np.count_nonzero(sparse == 1) == 1
    # The occluded class-6 box is two components, so two clicks.
    assert np.count_nonzero(sparse == 6) == 2


def test_click_radius_paints_a_clipped_disc(shapes_scene):
    sparse = PointLabeler(radius=2, num_background=1)(
        shapes_scene.semantic, shapes_scene.instances,
        np.random.default_rng(0)).sparse_mask
    # The clicks are more than 2 px inside, so whole 13-pixel discs fit.
    assert np.count_nonzero(sparse == 2) == 13          # the ellipse
    assert np.count_nonzero(sparse == 0) == 13          # background
    # On the 1 px line the disc is clipped to a run of 3 to 5 line pixels.
    line = np.argwhere(sparse == 3)
    assert (line[:, 0] == 40).all() and 3 <= len(line) <= 5
    assert np.ptp(line[:, 1]) == len(line) - 1
