"""VOC 2012, SBD, scribble/click PNG sets and Cityscapes on fixtures in the
real formats."""
import os

import numpy as np
import pytest
import scipy.io
import torch

from tests.fixtures.images import truncate
from tests.fixtures.seg_formats import (CITYSCAPES_FRAMES, VOC_STEMS,
                                        build_cityscapes, build_sbd, build_voc,
                                        write_grey_png)
from wsvision.datasets import (CityscapesSegDataset, DataError, SBDSegDataset,
                               VOCSegDataset)
from wsvision.datasets.cityscapes import LABEL_ID_TO_TRAIN_ID
from wsvision.datasets.transforms import (LoadImageFromFile,
                                          LoadSegAnnotations, PackSegInputs)
from wsvision.registry import DATASETS
from wsvision.structures import IGNORE_INDEX, UNLABELLED


def seg_pipeline():
    return [LoadImageFromFile(), LoadSegAnnotations(), PackSegInputs()]


def label_of(sample, field='gt_sem_seg'):
    return getattr(sample, field).data[0].numpy()


@pytest.fixture
def voc(tmp_path):
    return build_voc(str(tmp_path / 'VOC2012'))


def test_voc_reads_palette_indices_and_splits(voc, tmp_path):
    root = str(tmp_path / 'VOC2012')
    dataset = VOCSegDataset(data_root=root, split='train', pipeline=seg_pipeline())
    assert len(dataset) == 2 and len(dataset.metainfo['classes']) == 21
    assert dataset.metainfo['classes'][15] == 'person'
    for i, stem in enumerate(VOC_STEMS['train']):
        out = dataset[i]
        assert out['data_samples'].img_path == os.path.join(
            root, 'JPEGImages', f'{stem}.jpg')
        assert torch.equal(out['inputs'], torch.from_numpy(
            voc['images'][stem].transpose(2, 0, 1).copy()))
        # Palette indices, not colours: class ids and the 255 border.
        np.testing.assert_array_equal(label_of(out['data_samples']),
                                      voc['labels'][stem])
    val = VOCSegDataset(data_root=root, split='val')
    assert [os.path.basename(val.get_data_info(i)['img_path'])
            for i in range(len(val))] == ['2011_003276.jpg']


def test_voc_scribbles_remap_unlabelled(voc, tmp_path):
    root = str(tmp_path / 'VOC2012')
    dataset = VOCSegDataset(data_root=root, weak_dir='pascal_2012_scribble',
                            pipeline=seg_pipeline())
    sample = dataset[0]['data_samples']
    stem = VOC_STEMS['train'][0]
    scribble = voc['scribbles'][stem]
    expected = np.where(scribble == 255, UNLABELLED, scribble)
    np.testing.assert_array_equal(label_of(sample, 'gt_weak_seg'), expected)
    assert (expected == UNLABELLED).sum() > 0 and (expected < 21).sum() > 0
    # Weak-only training: the dense labels are not loaded.
    assert 'gt_sem_seg' not in sample

    both = VOCSegDataset(data_root=root, weak_dir='pascal_2012_scribble',
                         keep_dense=True, pipeline=seg_pipeline())[0]['data_samples']
    np.testing.assert_array_equal(label_of(both), voc['labels'][stem])
    np.testing.assert_array_equal(label_of(both, 'gt_weak_seg'), expected)

    raw = VOCSegDataset(data_root=root, weak_dir='pascal_2012_scribble',
                        source_unlabelled=None,
                        pipeline=seg_pipeline())[0]['data_samples']
    np.testing.assert_array_equal(label_of(raw, 'gt_weak_seg'), scribble)


def test_voc_click_set_with_other_unlabelled_value(tmp_path):
    root = str(tmp_path / 'VOC2012')
    build_voc(root)
    stem = VOC_STEMS['train'][0]
    clicks = np.full((24, 32), 0, np.uint8)  # a set that marks unlabelled as 0
    clicks[5, 7], clicks[15, 20] = 12, 21
    for s in VOC_STEMS['train']:
        write_grey_png(os.path.join(root, 'clicks', f'{s}.png'), clicks)
    sample = VOCSegDataset(data_root=root, weak_dir='clicks', source_unlabelled=0,
                           pipeline=seg_pipeline())[0]['data_samples']
    weak = label_of(sample, 'gt_weak_seg')
    assert weak[5, 7] == 12 and weak[15, 20] == 21
    assert (weak == UNLABELLED).sum() == 24 * 32 - 2


def test_voc_missing_and_corrupt_files(voc, tmp_path):
    root = str(tmp_path / 'VOC2012')
    with pytest.raises(DataError, match='split file not found: .*trainaug.txt'):
        VOCSegDataset(data_root=root, split='trainaug')
    label = os.path.join(root, 'SegmentationClass', '2007_000039.png')
    os.remove(label)
    with pytest.raises(DataError, match=f'label map not found: {label}'):
        VOCSegDataset(data_root=root)
    image = os.path.join(root, 'JPEGImages', '2011_003276.jpg')
    truncate(image)
    dataset = VOCSegDataset(data_root=root, split='val', pipeline=seg_pipeline())
    with pytest.raises(DataError, match=f'corrupt or unreadable image: {image}'):
        dataset[0]


def test_sbd_mat_labels(tmp_path):
    root = str(tmp_path / 'benchmark_RELEASE')
    sbd = build_sbd(root)
    dataset = DATASETS.build(dict(type='SBDSegDataset', data_root=root,
                                  split='train', pipeline=seg_pipeline()))
    assert len(dataset) == 2
    for i, stem in enumerate(['2008_000002', '2008_000003']):
        np.testing.assert_array_equal(label_of(dataset[i]['data_samples']),
                                      sbd['labels'][stem])
    assert len(SBDSegDataset(data_root=root, split='val')) == 1


def test_sbd_bad_mat_files_name_file_and_key(tmp_path):
    root = str(tmp_path / 'benchmark_RELEASE')
    build_sbd(root)
    path = os.path.join(root, 'dataset', 'cls', '2008_000002.mat')
    dataset = SBDSegDataset(data_root=root, pipeline=seg_pipeline())
    scipy.io.savemat(path, {'GTinst': np.zeros((2, 2))})
    with pytest.raises(DataError, match=f"{path}: missing key 'GTcls'"):
        dataset[0]
    truncate(path, keep_bytes=200)
    with pytest.raises(DataError, match=f'corrupt or unreadable MATLAB file {path}'):
        dataset[0]


def test_cityscapes_label_ids_to_train_ids(tmp_path):
    root = str(tmp_path / 'cityscapes')
    fixture = build_cityscapes(root)
    dataset = CityscapesSegDataset(data_root=root, split='train',
                                   pipeline=seg_pipeline())
    assert len(dataset.metainfo['classes']) == 19
    names = [os.path.basename(dataset.get_data_info(i)['img_path'])
             for i in range(len(dataset))]
    assert names == [f'{name}_leftImg8bit.png'
                     for _, name in CITYSCAPES_FRAMES['train']]
    sample = dataset[2]['data_samples']
    assert sample.seg_map_path.endswith(
        'gtFine/train/bochum/bochum_000000_000313_gtFine_labelIds.png')
    ids = fixture['label_ids']['bochum_000000_000313']
    train_ids = label_of(sample)
    for label_id in range(34):
        expected = LABEL_ID_TO_TRAIN_ID.get(label_id, IGNORE_INDEX)
        assert (train_ids[ids == label_id] == expected).all(), label_id
    # Spot checks against the official table: road, car, bicycle, parking.
    assert LABEL_ID_TO_TRAIN_ID[7] == 0 and LABEL_ID_TO_TRAIN_ID[26] == 13
    assert LABEL_ID_TO_TRAIN_ID[33] == 18 and 9 not in LABEL_ID_TO_TRAIN_ID
    assert sorted(LABEL_ID_TO_TRAIN_ID.values()) == list(range(19))


def test_cityscapes_missing_label_names_file(tmp_path):
    root = str(tmp_path / 'cityscapes')
    build_cityscapes(root)
    label = os.path.join(root, 'gtFine', 'val', 'frankfurt',
                         'frankfurt_000000_000294_gtFine_labelIds.png')
    os.remove(label)
    with pytest.raises(DataError, match=f'label map not found: {label}'):
        CityscapesSegDataset(data_root=root, split='val')
    with pytest.raises(DataError, match='image folder not found'):
        CityscapesSegDataset(data_root=root, split='test')
