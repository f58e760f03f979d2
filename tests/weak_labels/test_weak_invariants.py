"""Invariants every sparse generator keeps, on hand-made and Fashion-MNIST scenes."""
import numpy as np
import pytest

from wsvision.registry import WEAK_LABELERS
from wsvision.structures import IGNORE_INDEX, UNLABELLED
from wsvision.weak_labels import (BlockLabeler, PointLabeler, ScribbleLabeler,
                                  TagLabeler, build_weak_labeler)

SPARSE_TYPES = ['points', 'scribbles', 'blocks50', 'blocks20', 'blocks10']


def check_sparse(sparse, semantic):
    labelled = sparse < UNLABELLED
    # Every labelled pixel carries its dense ground-truth class.
    np.testing.assert_array_equal(sparse[labelled], semantic[labelled])
    # Ignored input pixels stay 255, and nothing else becomes 255.
    np.testing.assert_array_equal(sparse == IGNORE_INDEX, semantic == 255)


@pytest.mark.parametrize('weak_type', SPARSE_TYPES)
def test_labels_agree_with_ground_truth_and_keep_ignore(scene_set, weak_type):
    labeler = build_weak_labeler(weak_type)
    for index, scene in enumerate(scene_set):
        for instances in (scene.instances, None):
            weak = labeler(scene.semantic, instances,
                           np.random.default_rng(index))
            assert weak.sparse_mask.dtype == np.uint8
            check_sparse(weak.sparse_mask, scene.semantic)
            assert 0 < weak.labelled_fraction < 1


@pytest.mark.parametrize('weak_type', SPARSE_TYPES)
def test_same_seed_same_output_other_seed_differs(shapes_scene, weak_type):
    labeler = build_weak_labeler(weak_type)

    def run(seed):
        return labeler(shapes_scene.semantic, shapes_scene.instances,
                       np.random.default_rng(seed)).sparse_mask

    np.testing.assert_array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))


def test_custom_ignore_value_becomes_255(shapes_scene):
    semantic = shapes_scene.semantic.copy()
    semantic[semantic == 255] = 200
    for labeler in (PointLabeler(ignore_index=200),
                    ScribbleLabeler(ignore_index=200),
                    BlockLabeler(ignore_index=200)):
        sparse = labeler(semantic, shapes_scene.instances,
                         np.random.default_rng(0)).sparse_mask
        check_sparse(sparse, shapes_scene.semantic)


def test_configs_rebuild_the_same_generator(shapes_scene):
    for weak_type in SPARSE_TYPES:
        labeler = build_weak_labeler(weak_type, background_id=None)
        rebuilt = WEAK_LABELERS.build(labeler.config)
        assert rebuilt.config == labeler.config
        rng_a, rng_b = np.random.default_rng(1), np.random.default_rng(1)
        np.testing.assert_array_equal(
            labeler(shapes_scene.semantic, None, rng_a).sparse_mask,
            rebuilt(shapes_scene.semantic, None, rng_b).sparse_mask)


def test_bad_inputs_raise_clear_errors(shapes_scene):
    rng = np.random.default_rng(0)
    semantic = shapes_scene.semantic
    with pytest.raises(ValueError, match='uint8'):
        PointLabeler()(semantic.astype(np.int32), None, rng)
    with pytest.raises(ValueError, match='uint8'):
        PointLabeler()(semantic[None], None, rng)
    bad = semantic.copy()
    bad[5, 5] = UNLABELLED
    with pytest.raises(ValueError, match='class id 254'):
        PointLabeler()(bad, None, rng)
    with pytest.raises(ValueError, match=r'instance 1: mask shape \(4, 4\)'):
        PointLabeler()(semantic, [shapes_scene.instances[0],
                                  (np.zeros((4, 4), bool), 1)], rng)
    with pytest.raises(ValueError, match='instance 0: class_id'):
        PointLabeler()(semantic, [(shapes_scene.instances[0].mask, 300)], rng)
    with pytest.raises(ValueError, match='instance 0 must be a'):
        PointLabeler()(semantic, [np.zeros(3)], rng)
    with pytest.raises(ValueError, match='rng=np.random.default_rng'):
        ScribbleLabeler()(semantic, None)
    with pytest.raises(ValueError, match='odd'):
        ScribbleLabeler(width=4)
    with pytest.raises(ValueError, match='fraction'):
        BlockLabeler(fraction=50)
    with pytest.raises(ValueError, match='background_id'):
        TagLabeler(background_id=300)
    with pytest.raises(ValueError, match="unknown weak-label type 'block'"):
        build_weak_labeler('block')
