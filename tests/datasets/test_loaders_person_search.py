"""PRW and CUHK-SYSU loaders on fixtures written with scipy.io.savemat in the
real nested MATLAB layouts."""
import os

import numpy as np
import pytest
import scipy.io

from tests.fixtures.person_search_formats import (W, build_cuhk_sysu, build_prw,
                                                  struct_row)
from wsvision.datasets import CUHKSYSUDataset, DataError, PRWDataset
from wsvision.datasets.transforms import (LoadDetAnnotations,
                                          LoadImageFromFile, PackDetInputs)
from wsvision.registry import DATASETS


def det_pipeline():
    return [LoadImageFromFile(), LoadDetAnnotations(), PackDetInputs()]


def records(dataset):
    return {info['img_id']: info for info in map(dataset.get_data_info,
                                                  range(len(dataset)))}


def boxes_and_ids(info):
    return ([inst['bbox'] for inst in info['instances']],
            [inst['person_id'] for inst in info['instances']])


@pytest.fixture
def prw_root(tmp_path):
    root = str(tmp_path / 'PRW-v16.04.20')
    build_prw(root)
    return root


def test_prw_train_frames(prw_root):
    dataset = PRWDataset(data_root=prw_root, split='train')
    assert dataset.metainfo['classes'] == ('person', )
    infos = records(dataset)
    assert list(infos) == ['c1s1_000151.jpg', 'c2s1_000201.jpg']
    # [id, x, y, w, h] -> xyxy; id -2 -> -1.
    assert boxes_and_ids(infos['c1s1_000151.jpg']) == (
        [[10, 5, 22, 35], [40, 8, 50, 33]], [3, -1])
    # x = -3 starts left of the frame: clipped to 0, right edge kept at 11.
    assert boxes_and_ids(infos['c2s1_000201.jpg']) == ([[0, 2, 11, 42]], [7])
    assert [infos[n]['cam_id'] for n in infos] == [1, 2]
    assert infos['c1s1_000151.jpg']['img_path'] == os.path.join(
        prw_root, 'frames', 'c1s1_000151.jpg')
    assert dataset.queries == []
    assert dataset.summary()['instances_per_class'] == {'person': 3}


def test_prw_test_queries_and_gallery(prw_root):
    dataset = DATASETS.build(dict(type='PRWDataset', data_root=prw_root,
                                  split='test', pipeline=det_pipeline()))
    assert len(dataset) == 3
    assert dataset.queries == [
        dict(query_id=0, img_id='c1s2_000301.jpg',
             img_path=os.path.join(prw_root, 'frames', 'c1s2_000301.jpg'),
             bbox=[4.0, 4.0, 14.0, 24.0], person_id=479, cam_id=1),
        dict(query_id=1, img_id='c3s1_000401.jpg',
             img_path=os.path.join(prw_root, 'frames', 'c3s1_000401.jpg'),
             bbox=[44.5, 4.0, 54.0, 34.0], person_id=480, cam_id=3)]
    assert dataset.gallery(0) == ['c3s1_000401.jpg', 'c6s2_000501.jpg']
    assert dataset.gallery(1) == ['c1s2_000301.jpg', 'c6s2_000501.jpg']
    sample = dataset[1]['data_samples']
    assert sample.img_id == 'c3s1_000401.jpg'
    assert sample.gt_instances.person_ids.tolist() == [479, 480]
    assert sample.gt_instances.labels.tolist() == [0, 0]


def test_prw_bad_files(prw_root):
    mat = os.path.join(prw_root, 'annotations', 'c6s2_000501.jpg.mat')
    scipy.io.savemat(mat, {'boxes': np.zeros((1, 5))})
    with pytest.raises(DataError, match=f"{mat}: none of the box keys .*"
                                        r"found \['boxes'\]"):
        PRWDataset(data_root=prw_root, split='test')
    scipy.io.savemat(mat, {'box_new': np.zeros((1, 4))})
    with pytest.raises(DataError, match=f'{mat}: box_new must be N x 5'):
        PRWDataset(data_root=prw_root, split='test')
    os.remove(mat)
    with pytest.raises(DataError, match=f'MATLAB file not found: {mat}'):
        PRWDataset(data_root=prw_root, split='test')


def test_prw_bad_query_lines(prw_root):
    path = os.path.join(prw_root, 'query_info.txt')
    with open(path, 'a') as f:
        f.write('481 1.0 2.0 3.0 c1s2_000301\r\n')
    with pytest.raises(DataError, match=f'{path}: line 3: expected'):
        PRWDataset(data_root=prw_root, split='test')
    with open(path, 'w') as f:
        f.write('481 1.0 2.0 3.0 4.0 c1s1_000151\r\n')
    with pytest.raises(DataError, match='line 1: frame c1s1_000151.jpg is not '
                                        'a test frame'):
        PRWDataset(data_root=prw_root, split='test')


def test_prw_box_outside_frame_fails_when_loaded(prw_root):
    mat = os.path.join(prw_root, 'annotations', 'c2s1_000201.jpg.mat')
    scipy.io.savemat(mat, {'anno_file': np.array([[7., W - 5, 2, 10, 10]])})
    dataset = PRWDataset(data_root=prw_root, split='train',
                         pipeline=det_pipeline())
    frame = os.path.join(prw_root, 'frames', 'c2s1_000201.jpg')
    with pytest.raises(DataError, match=f'{frame}: annotation #0 .* outside'):
        dataset[1]


@pytest.fixture
def cuhk_root(tmp_path):
    root = str(tmp_path / 'cuhk_sysu')
    build_cuhk_sysu(root)
    return root


def test_cuhk_train_identities(cuhk_root):
    dataset = CUHKSYSUDataset(data_root=cuhk_root, split='train',
                              pipeline=det_pipeline())
    infos = records(dataset)
    # Training images: Images.mat minus pool.mat, in Images.mat order.
    assert list(infos) == ['s1.jpg', 's2.jpg', 's3.jpg']
    # Identity = index in Train.mat, matched by box.
    assert boxes_and_ids(infos['s1.jpg']) == ([[2, 3, 12, 23], [30, 5, 42, 35]],
                                              [1, 0])
    assert boxes_and_ids(infos['s2.jpg'])[1] == [0, -1]
    # The zero-width box is kept but ignored.
    assert [i['ignore_flag'] for i in infos['s2.jpg']['instances']] == [0, 1]
    assert boxes_and_ids(infos['s3.jpg'])[1] == [1]
    assert infos['s1.jpg']['img_path'] == os.path.join(cuhk_root, 'Image', 'SSM',
                                                       's1.jpg')
    sample = dataset[1]['data_samples']
    assert sample.gt_instances.person_ids.tolist() == [0]
    assert sample.ignored_instances.person_ids.tolist() == [-1]
    assert dataset.summary()['ignored_instances'] == 1


def test_cuhk_test_protocol(cuhk_root):
    dataset = CUHKSYSUDataset(data_root=cuhk_root, split='test')
    infos = records(dataset)
    assert list(infos) == ['s4.jpg', 's5.jpg', 's6.jpg']
    # Query 0's person is in s4 (query) and s6 (gallery); query 1's in s5
    # (query) and s4 (gallery).
    assert boxes_and_ids(infos['s4.jpg'])[1] == [1, 0]
    assert boxes_and_ids(infos['s5.jpg'])[1] == [1]
    assert boxes_and_ids(infos['s6.jpg'])[1] == [-1, 0]
    assert [(q['query_id'], q['img_id'], q['bbox'], q['person_id'])
            for q in dataset.queries] == [
        (0, 's4.jpg', [20, 4, 31, 26], 0), (1, 's5.jpg', [3, 3, 15, 33], 1)]
    assert dataset.gallery(0) == ['s6.jpg', 's5.jpg']
    assert dataset.gallery(1) == ['s6.jpg', 's4.jpg']


def test_cuhk_bad_files(cuhk_root):
    with pytest.raises(DataError, match='MATLAB file not found: .*TestG50.mat'):
        CUHKSYSUDataset(data_root=cuhk_root, split='test', gallery_size=50)
    train = os.path.join(cuhk_root, 'annotation', 'test', 'train_test',
                         'Train.mat')
    person = struct_row(('idname', 'nAppear', 'scene'), [(
        'p1', np.ones((1, 1)), struct_row(('imname', 'idlocate', 'ishard'), [
            ('s1.jpg', np.array([[9., 9, 9, 9]]), np.zeros((1, 1)))]))])
    cell = np.empty((1, 1), dtype=object)
    cell[0, 0] = person
    scipy.io.savemat(train, {'Train': cell})
    with pytest.raises(DataError, match=r'Train.mat: Train\[0\].scene\[0\]: box '
                                        r'\[9.0, 9.0, 9.0, 9.0\] is not among '
                                        'the boxes of s1.jpg'):
        CUHKSYSUDataset(data_root=cuhk_root, split='train')
    images = os.path.join(cuhk_root, 'annotation', 'Images.mat')
    scipy.io.savemat(images, {'Img': struct_row(('imname', 'nAppear'),
                                                [('s1.jpg', np.ones((1, 1)))])})
    with pytest.raises(DataError, match=r"Images.mat: Img\[0\]: missing field "
                                        "'box'"):
        CUHKSYSUDataset(data_root=cuhk_root, split='train')
