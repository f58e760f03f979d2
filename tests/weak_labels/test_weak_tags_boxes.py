import numpy as np
from pycocotools import mask as mask_utils

from wsvision.weak_labels import BoxLabeler, TagLabeler


def test_tags_are_sorted_present_classes():
    semantic = np.array([[0, 5, 5],
                         [2, 255, 0]], dtype=np.uint8)
    assert TagLabeler()(semantic).tags == [2, 5]
    assert TagLabeler(include_background=True)(semantic).tags == [0, 2, 5]
    assert TagLabeler(background_id=None)(semantic).tags == [0, 2, 5]
    # Pixels of the ignore value are never a tag, whatever that value is.
    assert TagLabeler(ignore_index=5)(
        np.array([[0, 5, 2]], dtype=np.uint8)).tags == [2]
    assert TagLabeler()(np.zeros((3, 3), np.uint8)).tags == []


def test_tags_of_the_scene(shapes_scene):
    assert TagLabeler()(shapes_scene.semantic).tags == [1, 2, 3, 4, 5, 6, 7, 8]


def test_boxes_by_hand(shapes_scene):
    boxes = BoxLabeler()(shapes_scene.semantic, shapes_scene.instances).boxes
    assert boxes.dtype == np.int64 and boxes.shape == (9, 5)
    # Inclusive-exclusive: the box 8:30 x 6:30 of class 1 is [6, 8, 30, 30].
    assert boxes[0].tolist() == [6, 8, 30, 30, 1]
    assert boxes[4].tolist() == [8, 40, 50, 41, 3]           # 1 px line
    # The class-6 box keeps its full extent: the occluder splits it but the
    # visible parts still span rows 8..39.
    assert boxes[7].tolist() == [60, 8, 90, 40, 6]


def test_boxes_match_pycocotools(fashion_scenes):
    for scene in fashion_scenes:
        boxes = BoxLabeler()(scene.semantic, scene.instances).boxes
        for row, instance in zip(boxes, scene.instances):
            rle = mask_utils.encode(np.asfortranarray(instance.mask.astype(np.uint8)))
            x, y, w, h = mask_utils.toBbox(rle).tolist()
            assert row.tolist() == [x, y, x + w, y + h, instance.class_id]


def test_boxes_from_components_without_instances(shapes_scene):
    boxes = BoxLabeler()(shapes_scene.semantic, None).boxes
    # Touching class-1 boxes merge; the occluded class-6 box splits in two.
    assert boxes[boxes[:, 4] == 1].tolist() == [[6, 8, 50, 30, 1]]
    assert (boxes[:, 4] == 6).sum() == 2
    empty = BoxLabeler()(np.zeros((4, 4), np.uint8), None).boxes
    assert empty.shape == (0, 5)
