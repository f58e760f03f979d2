"""The FashionScenes person-search dataset, the instance numbering and the
search protocol of the real-format loaders."""
import json
import os.path as osp

import pytest
from mmengine.registry import init_default_scope

from tests.fixtures.person_search_formats import build_cuhk_sysu, build_prw
from wsvision.datasets import DataError
from wsvision.registry import DATASETS

PIPELINE = [dict(type='LoadImageFromFile'),
            dict(type='LoadDetAnnotations', with_mask=True),
            dict(type='LoadInstanceIds'), dict(type='PackPersonSearchInputs')]


def build(root, split, **kwargs):
    init_default_scope('wsvision')
    return DATASETS.build(dict(type='FashionScenesPersonSearchDataset',
                               data_root=osp.join(root, 'person_search'),
                               split=split, pipeline=PIPELINE,
                               test_mode=split == 'test', **kwargs))


def all_instances(dataset):
    return [inst for i in range(len(dataset))
            for inst in dataset.get_data_info(i)['instances']]


def test_train_split_hides_identities(tiny_person_search):
    dataset = build(tiny_person_search, 'train')
    assert dataset.metainfo['classes'] == ('item', )
    instances = all_instances(dataset)
    assert [inst['instance_id'] for inst in instances] == list(range(len(instances)))
    assert not any('person_id' in inst for inst in instances)
    packed = dataset[0]['data_samples'].gt_instances
    assert 'person_ids' not in packed
    assert packed.instance_ids.tolist() == [
        inst['instance_id'] for inst in dataset.get_data_info(0)['instances']]
    assert packed.masks.shape[0] == len(packed.bboxes)
    assert dataset.metainfo['search_queries'] == []


def test_hidden_identities_for_the_upper_bound(tiny_person_search):
    dataset = build(tiny_person_search, 'train', with_identities=True)
    with open(osp.join(tiny_person_search, 'person_search', 'train',
                       'identities_hidden.json')) as f:
        hidden = json.load(f)['identities']
    instances = all_instances(dataset)
    assert [inst['person_id'] for inst in instances] == [
        hidden[str(inst['ann_id'])] for inst in instances]
    assert dataset[0]['data_samples'].gt_instances.person_ids.tolist() == [
        hidden[str(inst['ann_id'])]
        for inst in dataset.get_data_info(0)['instances']]


def test_test_split_protocol(tiny_person_search):
    dataset = build(tiny_person_search, 'test')
    split_dir = osp.join(tiny_person_search, 'person_search', 'test')
    with open(osp.join(split_dir, 'queries.json')) as f:
        queries = json.load(f)
    with open(osp.join(split_dir, 'gallery.json')) as f:
        galleries = json.load(f)
    assert [q['query_id'] for q in dataset.queries] == [q['query_id'] for q in queries]
    query = dataset.queries[0]
    x, y, w, h = queries[0]['bbox']
    assert query['bbox'] == [x, y, x + w, y + h]
    assert query['person_id'] == queries[0]['identity']
    assert dataset.gallery(0) == galleries['0']
    meta = dataset.metainfo
    assert meta['search_galleries'][0] == galleries['0']
    assert len(meta['search_queries']) == len(queries)
    identities = {inst['person_id'] for inst in all_instances(dataset)}
    assert {q['identity'] for q in queries} <= identities


def test_test_split_without_identities_is_an_error(tiny_person_search, tmp_path):
    import shutil
    root = tmp_path / 'copy'
    shutil.copytree(tiny_person_search, root)
    ann_file = root / 'person_search' / 'test' / 'instances.json'
    coco = json.loads(ann_file.read_text())
    del coco['annotations'][0]['identity']
    ann_file.write_text(json.dumps(coco))
    with pytest.raises(DataError, match=r'instances.json: annotations\[0\] has '
                       'no "identity"'):
        build(str(root), 'test')


@pytest.mark.parametrize('name, builder, dataset_type', [
    ('prw', build_prw, 'PRWDataset'), ('cuhk', build_cuhk_sysu, 'CUHKSYSUDataset')])
def test_real_formats_number_instances_and_carry_the_protocol(
        tmp_path, name, builder, dataset_type):
    root = str(tmp_path / name)
    builder(root)
    train = DATASETS.build(dict(type=dataset_type, data_root=root, split='train'))
    ids = [inst['instance_id'] for inst in all_instances(train)]
    assert ids == list(range(len(ids)))
    test = DATASETS.build(dict(type=dataset_type, data_root=root, split='test'))
    meta = test.metainfo
    assert meta['search_queries'] == test.queries
    if name == 'prw':
        assert meta['search_galleries'] is None  # every other frame
    else:
        assert meta['search_galleries'] == {q['query_id']: test.gallery(q['query_id'])
                                            for q in test.queries}
