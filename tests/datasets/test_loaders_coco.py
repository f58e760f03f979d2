"""COCO, LVIS and FashionScenes detection loaders on fixtures in the real formats."""
import json
import os

import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils

from tests.fixtures.coco_format import (CLASSES, build_coco,
                                        build_fashion_scenes_split, build_lvis,
                                        rectangle_mask, write_json)
from tests.fixtures.images import truncate
from wsvision.datasets import (CocoDetDataset, DataError,
                               FashionScenesDetDataset, LvisDetDataset)
from wsvision.datasets.transforms import (LoadDetAnnotations,
                                          LoadImageFromFile, PackDetInputs)
from wsvision.registry import DATASETS


def det_pipeline(with_mask=True):
    return [LoadImageFromFile(), LoadDetAnnotations(with_mask=with_mask),
            PackDetInputs()]


def info_by_id(dataset):
    """Data-info records by image id."""
    return {info['img_id']: info for info in map(dataset.get_data_info,
                                                  range(len(dataset)))}


def packed_by_id(dataset):
    """Pipeline outputs by image id."""
    return {dataset[i]['data_samples'].img_id: dataset[i]
            for i in range(len(dataset))}


@pytest.fixture
def coco(tmp_path):
    return build_coco(str(tmp_path))


def test_coco_records_labels_and_boxes(coco, tmp_path):
    dataset = CocoDetDataset(data_root=str(tmp_path),
                             ann_file='annotations/instances_val2017.json',
                             img_prefix='val2017')
    assert dataset.metainfo['classes'] == CLASSES
    assert dataset.metainfo['cat_ids'] == (1, 3, 18)
    infos = info_by_id(dataset)
    assert list(infos) == [397133, 12, 5]

    first = infos[397133]
    assert first['img_path'] == os.path.join(str(tmp_path), 'val2017',
                                             '000000397133.jpg')
    assert (first['height'], first['width']) == (40, 60)
    assert [inst['bbox'] for inst in first['instances']] == [
        [10.5, 5.0, 30.5, 20.0], [20.0, 10.0, 50.0, 30.0]]
    assert [inst['bbox_label'] for inst in first['instances']] == [2, 0]
    assert [inst['ann_id'] for inst in first['instances']] == [1768, 1769]
    assert [inst['ignore_flag'] for inst in first['instances']] == [0, 0]

    second = infos[12]
    # Crowd -> ignored; 0.4 px overshoot -> clipped to the width of 50;
    # a 0.5 px wide box -> ignored.
    assert [inst['ignore_flag'] for inst in second['instances']] == [1, 0, 1]
    np.testing.assert_allclose(second['instances'][1]['bbox'], [40, 20, 50, 30])
    assert [inst['bbox_label'] for inst in second['instances']] == [1, 0, 1]
    assert infos[5]['instances'] == []


def test_coco_summary_and_empty_filter(coco, tmp_path):
    kwargs = dict(data_root=str(tmp_path), img_prefix='val2017',
                  ann_file='annotations/instances_val2017.json')
    summary = CocoDetDataset(**kwargs).summary()
    assert summary == dict(images=3, images_without_instances=1, filtered_out=0,
                           instances_per_class={'person': 2, 'car': 0, 'dog': 1},
                           ignored_instances=2)
    filtered = CocoDetDataset(filter_empty_gt=True, **kwargs)
    assert len(filtered) == 2
    assert filtered.summary()['filtered_out'] == 1
    # Evaluation keeps every image.
    assert len(CocoDetDataset(filter_empty_gt=True, test_mode=True, **kwargs)) == 3


def test_coco_pipeline_packs_instances_and_masks(coco, tmp_path):
    dataset = CocoDetDataset(data_root=str(tmp_path), img_prefix='val2017',
                             ann_file='annotations/instances_val2017.json',
                             pipeline=det_pipeline())
    packed = packed_by_id(dataset)
    inputs, sample = packed[397133]['inputs'], packed[397133]['data_samples']
    assert inputs.dtype == torch.uint8 and inputs.shape == (3, 40, 60)
    assert torch.equal(inputs, torch.from_numpy(
        coco['images'][397133].transpose(2, 0, 1).copy()))
    assert sample.img_id == 397133 and sample.ori_shape == (40, 60)
    assert sample.scale_factor == (1.0, 1.0) and sample.flip is False
    gt = sample.gt_instances
    assert gt.bboxes.dtype == torch.float32 and gt.labels.dtype == torch.int64
    assert gt.labels.tolist() == [2, 0]
    assert gt.masks.dtype == torch.bool and gt.masks.shape == (2, 40, 60)
    # The polygon decodes as pycocotools decodes it; the RLE is the exact
    # rectangle it encodes.
    polygon = coco['coco']['annotations'][0]['segmentation']
    reference = mask_utils.decode(mask_utils.merge(
        mask_utils.frPyObjects(polygon, 40, 60)))
    assert torch.equal(gt.masks[0], torch.from_numpy(reference.astype(bool)))
    assert torch.equal(gt.masks[1], torch.from_numpy(
        rectangle_mask(40, 60, 20, 10, 50, 30).astype(bool)))
    assert len(sample.ignored_instances) == 0

    sample = packed[12]['data_samples']
    assert sample.gt_instances.labels.tolist() == [0]
    assert sample.ignored_instances.labels.tolist() == [1, 1]
    # The crowd region comes from an uncompressed (list) RLE.
    assert torch.equal(sample.ignored_instances.masks[0], torch.from_numpy(
        rectangle_mask(30, 50, 5, 5, 15, 15).astype(bool)))
    empty = packed[5]['data_samples']
    assert empty.gt_instances.bboxes.shape == (0, 4)
    assert empty.gt_instances.masks.shape == (0, 20, 20)


def test_coco_registered_and_built_from_config(coco, tmp_path):
    dataset = DATASETS.build(dict(
        type='CocoDetDataset', data_root=str(tmp_path), img_prefix='val2017',
        ann_file='annotations/instances_val2017.json'))
    assert isinstance(dataset, CocoDetDataset) and len(dataset) == 3


def test_coco_metainfo_classes_must_match_file(coco, tmp_path):
    with pytest.raises(ValueError, match='differ from the classes'):
        CocoDetDataset(data_root=str(tmp_path), img_prefix='val2017',
                       ann_file='annotations/instances_val2017.json',
                       metainfo=dict(classes=('car', 'person', 'dog')))


def rewrite(coco, edit):
    payload = json.loads(json.dumps(coco['coco']))
    edit(payload)
    write_json(coco['ann_file'], payload)


def build(tmp_path, **kwargs):
    return CocoDetDataset(data_root=str(tmp_path), img_prefix='val2017',
                          ann_file='annotations/instances_val2017.json', **kwargs)


def test_coco_missing_and_malformed_json(coco, tmp_path):
    with open(coco['ann_file'], 'w') as f:
        f.write('{"images": [')
    with pytest.raises(DataError, match='malformed JSON in .*instances_val2017'):
        build(tmp_path)
    os.remove(coco['ann_file'])
    with pytest.raises(DataError, match='not found: .*instances_val2017.json'):
        build(tmp_path)


def test_coco_unknown_category_names_annotation_and_file(coco, tmp_path):
    rewrite(coco, lambda c: c['annotations'][3].update(category_id=99))
    with pytest.raises(DataError,
                       match=r'instances_val2017.json: annotation id 2001: '
                             r'unknown category_id 99'):
        build(tmp_path)


def test_coco_box_outside_image_names_annotation_and_file(coco, tmp_path):
    # x2 = 40 + 11.5 = 51.5 > width 50 + 1 px tolerance.
    rewrite(coco, lambda c: c['annotations'][3].update(bbox=[40, 20, 11.5, 10]))
    with pytest.raises(DataError, match=r'instances_val2017.json .*'
                       r'000000000012.jpg\): annotation id 2001 .* outside'):
        build(tmp_path)


def test_coco_negative_box_size_is_an_error(coco, tmp_path):
    rewrite(coco, lambda c: c['annotations'][0].update(bbox=[10, 5, -3, 4]))
    with pytest.raises(DataError, match='annotation id 1768 .* inverted'):
        build(tmp_path)


def test_coco_missing_key_names_index(coco, tmp_path):
    rewrite(coco, lambda c: c['annotations'][2].pop('bbox'))
    with pytest.raises(DataError, match=r"annotations\[2\]: missing key 'bbox'"):
        build(tmp_path)


def test_coco_missing_and_truncated_images(coco, tmp_path):
    path = os.path.join(str(tmp_path), 'val2017', '000000000012.jpg')
    truncate(path)
    dataset = build(tmp_path, pipeline=det_pipeline())
    index = [dataset.get_data_info(i)['img_id'] for i in range(3)].index(12)
    with pytest.raises(DataError, match=f'corrupt or unreadable image: {path}'):
        dataset[index]
    os.remove(path)
    with pytest.raises(DataError, match=f'image not found: {path}'):
        build(tmp_path)


def test_lvis_federated_fields(tmp_path):
    build_lvis(str(tmp_path))
    dataset = LvisDetDataset(data_root=str(tmp_path),
                             ann_file='annotations/lvis_v1_val.json')
    assert dataset.metainfo['classes'] == CLASSES
    assert dataset.metainfo['frequencies'] == ('f', 'c', 'r')
    infos = info_by_id(dataset)
    # No file_name in LVIS v1: the path comes from coco_url.
    assert infos[12]['img_path'] == os.path.join(str(tmp_path), 'val2017',
                                                 '000000000012.jpg')
    assert infos[397133]['neg_labels'] == [1]
    assert infos[12]['not_exhaustive_labels'] == [0, 2]
    assert [inst['ignore_flag'] for inst in infos[12]['instances']] == [0, 1]


def test_lvis_unknown_negative_category(tmp_path):
    lvis = build_lvis(str(tmp_path))
    lvis['coco']['images'][0]['neg_category_ids'] = [42]
    write_json(lvis['ann_file'], lvis['coco'])
    with pytest.raises(DataError, match='image id 397133: neg_category_ids '
                                        r'holds unknown category ids \[42\]'):
        LvisDetDataset(data_root=str(tmp_path),
                       ann_file='annotations/lvis_v1_val.json')


def test_fashion_scenes_split_and_variant(tmp_path):
    fixture = build_fashion_scenes_split(str(tmp_path), 'val')
    dataset = FashionScenesDetDataset(data_root=str(tmp_path), split='val',
                                      pipeline=det_pipeline())
    assert dataset.metainfo['classes'] == tuple(fixture['classes'])
    assert dataset.metainfo['cat_ids'] == tuple(range(1, 11))
    sample = dataset[0]['data_samples']
    assert sample.img_path == os.path.join(str(tmp_path), 'val', 'images',
                                           '000000.png')
    # Category ids 2 and 10 -> labels 1 and 9; COCO w/h count pixels.
    assert sample.gt_instances.labels.tolist() == [1, 9]
    assert sample.gt_instances.bboxes.tolist() == [[4, 6, 14, 20],
                                                   [16, 16, 30, 31]]
    for mask, (_, expected) in zip(sample.gt_instances.masks,
                                   fixture['masks'][0]):
        assert torch.equal(mask, torch.from_numpy(expected.astype(bool)))
    assert dataset.summary()['images_without_instances'] == 1

    # A variant file over the same images, e.g. novel classes removed.
    variant = dict(fixture['coco'], annotations=fixture['coco']['annotations'][:1])
    write_json(os.path.join(str(tmp_path), 'variants', 'val_base.json'), variant)
    base_only = FashionScenesDetDataset(data_root=str(tmp_path), split='val',
                                        ann_file='variants/val_base.json')
    assert [i['bbox_label'] for i in base_only.get_data_info(0)['instances']] == [1]
