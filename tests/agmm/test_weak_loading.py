"""Weak labels of every type through the dataset and the training pipeline."""
import json

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

from wsvision.datasets import FashionScenesSegDataset
from wsvision.datasets.io import DataError
from wsvision.datasets.transforms import (LoadWeakSegAnnotations, PackWeakSegInputs,
                                          RandomCrop, RandomFlip)

U, P = 254, 255


def load(results, num_classes=4):
    return LoadWeakSegAnnotations(num_classes=num_classes)(results)


def test_tags_become_an_unlabelled_map_and_image_tags():
    results = load(dict(img=np.zeros((3, 5, 3), np.uint8), weak_tags=[2]))
    assert (results['gt_weak_seg'] == U).all() and results['gt_weak_seg'].shape == (3, 5)
    assert results['seg_fields'] == ['gt_weak_seg']
    assert results['gt_tags'].tolist() == [1, 0, 1, 0]  # background is always tagged


def test_boxes_mark_background_outside_and_unlabelled_inside():
    results = load(dict(img=np.zeros((4, 6, 3), np.uint8),
                        weak_boxes=[[1, 0, 3, 2, 3], [4, 2, 6, 4, 1]]))
    assert results['gt_weak_seg'].tolist() == [[0, U, U, 0, 0, 0],
                                               [0, U, U, 0, 0, 0],
                                               [0, 0, 0, 0, U, U],
                                               [0, 0, 0, 0, U, U]]
    assert results['gt_bboxes'].tolist() == [[1, 0, 3, 2], [4, 2, 6, 4]]
    assert results['gt_bboxes_labels'].tolist() == [3, 1]
    assert results['gt_tags'].tolist() == [1, 1, 0, 1]


def test_sparse_map_tags_are_the_labelled_classes():
    label = np.array([[U, 2, P], [U, U, 0]], np.uint8)
    results = load(dict(img=np.zeros((2, 3, 3), np.uint8), gt_weak_seg=label,
                        seg_fields=['gt_weak_seg']))
    assert results['gt_tags'].tolist() == [1, 0, 1, 0]


def test_tags_are_taken_before_the_crop_and_padding_stays_ignore():
    np.random.seed(0)
    results = load(dict(img=np.zeros((4, 4, 3), np.uint8), weak_boxes=[[0, 0, 2, 2, 2]]))
    results = RandomCrop(crop_size=(6, 6))(results)  # pads 2 rows and 2 columns
    results = RandomFlip(prob=1.0)(results)
    weak = results['gt_weak_seg']
    assert (weak[4:] == P).all() and (weak[:, :2] == P).all()  # flipped padding
    assert (weak[:2, 4:] == U).all() and (weak[2:4, 2:4] == 0).all()
    assert results['gt_bboxes'].tolist() == [[4, 0, 6, 2]]  # moved with the flip
    packed = PackWeakSegInputs()(results)['data_samples']
    assert packed.gt_tags.tolist() == [1, 0, 1, 0]
    assert packed.gt_instances.bboxes.dtype == torch.float32
    assert packed.gt_instances.labels.tolist() == [2]
    assert packed.gt_weak_seg.data.shape == (1, 6, 6)


def test_class_ids_out_of_range_are_an_error():
    with pytest.raises(ValueError, match=r'\[7\]'):
        load(dict(img=np.zeros((2, 2, 3), np.uint8), weak_tags=[7]))


@pytest.mark.parametrize('weak_label,key', [('tags', 'weak_tags'), ('boxes', 'weak_boxes')])
def test_dataset_reads_json_weak_labels(weak_scenes, weak_label, key):
    init_default_scope('wsvision')
    dataset = FashionScenesSegDataset(weak_scenes, split='train', weak_label=weak_label,
                                      pipeline=[])
    with open(f'{weak_scenes}/train/weak/{weak_label}.json') as f:
        records = json.load(f)
    info = dataset.get_data_info(0)
    stem = info['img_path'].rsplit('/', 1)[1][:-4]
    assert info[key] == records[stem]
    assert 'weak_seg_path' not in info and 'seg_map_path' not in info


def test_dataset_json_errors_name_file_and_key(weak_scenes, tmp_path):
    import shutil
    root = tmp_path / 'data'
    shutil.copytree(weak_scenes, root)
    path = root / 'train' / 'weak' / 'boxes.json'
    records = json.loads(path.read_text())
    stem = sorted(records)[0]
    records[stem] = [[5, 5, 2, 9, 1]]  # x1 > x2
    path.write_text(json.dumps(records))
    with pytest.raises(DataError, match=rf"boxes.json: key '{stem}': item 0"):
        FashionScenesSegDataset(str(root), split='train', weak_label='boxes', pipeline=[])
    del records[stem]
    path.write_text(json.dumps(records))
    with pytest.raises(DataError, match=rf"boxes.json: missing key '{stem}'"):
        FashionScenesSegDataset(str(root), split='train', weak_label='boxes', pipeline=[])
