"""Box- and mask-aware transforms, LoadDetAnnotations and PackDetInputs."""
import numpy as np
import pytest
import torch

from wsvision.datasets import DataError
from wsvision.datasets.transforms import (LoadDetAnnotations, PackDetInputs,
                                          RandomCrop, RandomFlip, RandomResize,
                                          Resize)
from wsvision.structures import IGNORE_INDEX

H, W = 40, 60


def box_mask(box):
    x1, y1, x2, y2 = (int(v) for v in box)
    mask = np.zeros((H, W), dtype=np.uint8)
    mask[y1:y2, x1:x2] = 1
    return mask


def loaded(boxes, labels=None, ignore=None, person_ids=None):
    """Results after LoadImageFromFile + LoadDetAnnotations(with_mask=True),
    with a rectangle mask per box and a seg map equal to the row index."""
    boxes = [list(map(float, b)) for b in boxes]
    labels = labels if labels is not None else list(range(len(boxes)))
    ignore = ignore if ignore is not None else [0] * len(boxes)
    instances = []
    for i, box in enumerate(boxes):
        x1, y1, x2, y2 = box
        inst = dict(bbox=box, bbox_label=labels[i], ignore_flag=ignore[i],
                    ann_id=100 + i,
                    mask={'size': [H, W], 'counts': rle_counts(box_mask(box))})
        if person_ids is not None:
            inst['person_id'] = person_ids[i]
        instances.append(inst)
    img = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    results = dict(img=img, img_path='scene.jpg', img_id=7, img_shape=(H, W),
                   ori_shape=(H, W), instances=instances,
                   gt_seg_map=np.repeat(np.arange(H, dtype=np.uint8)[:, None], W, 1),
                   seg_fields=['gt_seg_map'])
    return LoadDetAnnotations(with_mask=True)(results)


def rle_counts(mask):
    """Uncompressed COCO RLE counts (column-major, background first)."""
    flat = mask.flatten(order='F')
    bounds = np.concatenate([[0], np.flatnonzero(np.diff(flat)) + 1, [flat.size]])
    counts = np.diff(bounds).tolist()
    return counts if flat[0] == 0 else [0] + counts


def test_load_det_annotations_arrays():
    results = loaded([[0, 0, 10, 10], [5, 6, 20, 30]], labels=[3, 1],
                     ignore=[0, 1], person_ids=[4, -1])
    np.testing.assert_array_equal(results['gt_bboxes'],
                                  [[0, 0, 10, 10], [5, 6, 20, 30]])
    assert results['gt_bboxes'].dtype == np.float32
    assert results['gt_bboxes_labels'].tolist() == [3, 1]
    assert results['gt_bboxes_labels'].dtype == np.int64
    assert results['gt_ignore_flags'].tolist() == [False, True]
    assert results['gt_person_ids'].tolist() == [4, -1]
    assert results['gt_masks'].shape == (2, H, W)
    assert results['gt_masks'].dtype == np.uint8
    np.testing.assert_array_equal(results['gt_masks'][1], box_mask([5, 6, 20, 30]))
    assert results['bbox_fields'] == ['gt_bboxes']
    assert results['mask_fields'] == ['gt_masks']
    assert set(results['instance_fields']) == {
        'gt_bboxes', 'gt_bboxes_labels', 'gt_ignore_flags', 'gt_person_ids',
        'gt_masks'}


def test_load_det_annotations_checks_boxes_against_image():
    with pytest.raises(DataError, match=r'scene.jpg: annotation 101 .* '
                                        r'outside the 60x40 image'):
        loaded([[0, 0, 10, 10], [50, 0, 61.5, 10]])
    # Within the 1 px tolerance the box is clipped.
    assert loaded([[-0.5, 0, 60.8, 40.9]])['gt_bboxes'].tolist() == [[0, 0, 60, 40]]


def test_load_det_annotations_missing_fields():
    results = loaded([[0, 0, 10, 10], [1, 1, 5, 5]], person_ids=[1, 2])
    del results['instances'][1]['person_id']
    with pytest.raises(DataError, match='annotation 101 has no person_id'):
        LoadDetAnnotations()(results)
    del results['instances'][0]['mask']
    with pytest.raises(DataError, match='annotation 100 has no segmentation'):
        LoadDetAnnotations(with_mask=True)(dict(results, instances=results[
            'instances'][:1]))


def test_random_flip_moves_boxes_and_masks():
    results = loaded([[10.5, 5, 30.5, 20], [0, 0, 60, 40]])
    masks_before = results['gt_masks'].copy()
    seg_before = results['gt_seg_map'].copy()
    results = RandomFlip(prob=1.0)(results)
    # x1' = W - x2, x2' = W - x1 with W = 60.
    np.testing.assert_allclose(results['gt_bboxes'],
                               [[29.5, 5, 49.5, 20], [0, 0, 60, 40]])
    np.testing.assert_array_equal(results['gt_masks'], masks_before[:, :, ::-1])
    np.testing.assert_array_equal(results['gt_seg_map'], seg_before[:, ::-1])
    assert results['flip'] is True
    # Flipping twice is the identity.
    results = RandomFlip(prob=1.0)(results)
    np.testing.assert_allclose(results['gt_bboxes'],
                               [[10.5, 5, 30.5, 20], [0, 0, 60, 40]])


def test_resize_keep_ratio_and_scale_factor():
    # Long side 60 may grow to 100, short side 40 may reach 20: ratio 0.5.
    results = Resize(scale=(100, 20))(loaded([[10, 4, 30, 20]]))
    assert results['img'].shape == (20, 30, 3)
    assert results['img_shape'] == (20, 30)
    assert results['scale_factor'] == (0.5, 0.5)
    np.testing.assert_allclose(results['gt_bboxes'], [[5, 2, 15, 10]])
    assert results['gt_masks'].shape == (1, 20, 30)
    np.testing.assert_array_equal(np.argwhere(results['gt_masks'][0]).min(0), [2, 5])
    np.testing.assert_array_equal(np.argwhere(results['gt_masks'][0]).max(0), [9, 14])
    assert results['gt_seg_map'].shape == (20, 30)


def test_resize_stretch_then_random_resize_compose_scale_factor():
    results = Resize(scale=(120, 20), keep_ratio=False)(loaded([[10, 4, 30, 20]]))
    assert results['img'].shape == (20, 120, 3)
    assert results['scale_factor'] == (2.0, 0.5)
    np.testing.assert_allclose(results['gt_bboxes'], [[20, 2, 60, 10]])
    np.random.seed(3)
    results = RandomResize(ratio_range=(0.5, 1.5))(results)
    h, w = results['img'].shape[:2]
    # scale_factor stays relative to the original 60 x 40 image.
    np.testing.assert_allclose(results['scale_factor'], (w / W, h / H))
    np.testing.assert_allclose(results['gt_bboxes'],
                               [[10 * w / W, 4 * h / H, 30 * w / W, 20 * h / H]],
                               rtol=1e-6)
    assert results['gt_masks'].shape == (1, h, w)


def crop_window(seed, crop_h, crop_w, h=H, w=W):
    """The (top, left) RandomCrop draws after ``np.random.seed(seed)``."""
    np.random.seed(seed)
    return (np.random.randint(0, h - crop_h + 1),
            np.random.randint(0, w - crop_w + 1))


def test_random_crop_clips_and_drops_instances_in_step():
    assert crop_window(5, 20, 30) == (3, 14)  # window x 14..44, y 3..23
    results = loaded([[16, 6, 26, 16], [46, 0, 58, 20], [34, 0, 54, 13]],
                     labels=[5, 6, 7], ignore=[0, 0, 1],
                     person_ids=[11, 12, 13])
    masks_before = results['gt_masks'].copy()
    np.random.seed(5)
    results = RandomCrop((20, 30))(results)
    # Inside: shifted by (14, 3); right of the window: dropped;
    # straddling: shifted and clipped to the 30 x 20 window.
    np.testing.assert_allclose(results['gt_bboxes'],
                               [[2, 3, 12, 13], [20, 0, 30, 10]])
    assert results['gt_bboxes_labels'].tolist() == [5, 7]
    assert results['gt_ignore_flags'].tolist() == [False, True]
    assert results['gt_person_ids'].tolist() == [11, 13]
    np.testing.assert_array_equal(results['gt_masks'],
                                  masks_before[[0, 2], 3:23, 14:44])
    assert results['img_shape'] == (20, 30)


def test_random_crop_pads_masks_with_zero_and_labels_with_ignore():
    results = loaded([[50, 30, 60, 40]])
    np.random.seed(0)
    results = RandomCrop((50, 70))(results)  # larger than the 40 x 60 image
    assert results['img'].shape == (50, 70, 3)
    assert (results['gt_seg_map'][40:] == IGNORE_INDEX).all()
    assert (results['gt_seg_map'][:, 60:] == IGNORE_INDEX).all()
    assert results['gt_masks'].shape == (1, 50, 70)
    assert results['gt_masks'][0].sum() == 100
    np.testing.assert_allclose(results['gt_bboxes'], [[50, 30, 60, 40]])


def test_seg_only_results_unchanged_by_box_support():
    seg = np.repeat(np.arange(H, dtype=np.uint8)[:, None], W, 1)
    results = dict(img=np.zeros((H, W, 3), np.uint8), gt_seg_map=seg,
                   seg_fields=['gt_seg_map'])
    top, left = crop_window(2, 16, 16)
    np.random.seed(2)
    out = RandomCrop(16)(dict(results))
    np.testing.assert_array_equal(out['gt_seg_map'],
                                  seg[top:top + 16, left:left + 16])
    assert 'gt_bboxes' not in out and 'instance_fields' not in out


def test_pack_det_inputs_splits_ignored_instances():
    results = loaded([[0, 0, 10, 10], [5, 5, 20, 20], [1, 2, 3, 4]],
                     labels=[2, 0, 1], ignore=[0, 1, 0], person_ids=[3, -1, -1])
    flipped_img = results['img'][:, ::-1].transpose(2, 0, 1).copy()
    packed = PackDetInputs()(RandomFlip(prob=1.0)(results))
    inputs, sample = packed['inputs'], packed['data_samples']
    assert inputs.shape == (3, H, W) and inputs.dtype == torch.uint8
    assert torch.equal(inputs, torch.from_numpy(flipped_img))
    gt = sample.gt_instances
    assert gt.labels.tolist() == [2, 1] and gt.labels.dtype == torch.int64
    assert gt.bboxes.tolist() == [[50, 0, 60, 10], [57, 2, 59, 4]]
    assert gt.bboxes.dtype == torch.float32
    assert gt.person_ids.tolist() == [3, -1]
    assert gt.masks.dtype == torch.bool and gt.masks.shape == (2, H, W)
    assert sample.ignored_instances.labels.tolist() == [0]
    assert sample.metainfo == dict(img_id=7, img_path='scene.jpg',
                                   ori_shape=(H, W), img_shape=(H, W),
                                   scale_factor=(1.0, 1.0), flip=True)


def test_pack_det_inputs_without_annotations():
    packed = PackDetInputs()(dict(img=np.zeros((4, 5, 3), np.uint8),
                                  img_path='a.png', ori_shape=(4, 5),
                                  img_shape=(4, 5)))
    sample = packed['data_samples']
    assert 'gt_instances' not in sample
    assert sample.scale_factor == (1.0, 1.0) and sample.flip is False


def test_albu_photometric_step_is_seeded_and_names_a_bad_transform():
    """Per-channel gains move no pixel: one gain per channel over the whole
    image, the same stream for the same numpy seed; an unknown albumentations
    class is named with its index."""
    from wsvision.registry import TRANSFORMS
    albu = TRANSFORMS.build(dict(type='Albu', transforms=[dict(
        type='MultiplicativeNoise', multiplier=(0.5, 1.5), per_channel=True,
        elementwise=False, p=1.0)]))
    img = np.full((6, 5, 3), 100, np.uint8)
    np.random.seed(3)
    first = albu(dict(img=img.copy(), gt_bboxes=np.zeros((0, 4))))
    out = first['img']
    assert out.shape == img.shape and out.dtype == np.uint8
    assert (out == out[0, 0]).all() and not (out[0, 0] == 100).all()
    assert np.all((out[0, 0] >= 50) & (out[0, 0] <= 150))
    np.random.seed(3)
    assert np.array_equal(albu(dict(img=img.copy()))['img'], out)
    with pytest.raises(KeyError, match=r"Albu.transforms\[1\]: albumentations has no "
                                       r"transform 'NoSuchThing'"):
        TRANSFORMS.build(dict(type='Albu', transforms=[dict(type='ToGray'),
                                                       dict(type='NoSuchThing')]))
