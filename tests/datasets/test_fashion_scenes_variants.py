"""FashionScenes variants: fewshot, ovd, foggy and person_search."""
import json
import os
from collections import Counter, defaultdict

import cv2
import numpy as np
import pytest

from wsvision.datasets.fashion_scenes import PRESETS, build_fashion_scenes
from wsvision.datasets.fashion_scenes.class_splits import class_split
from wsvision.datasets.fashion_scenes.foggy import apply_fog
from wsvision.datasets.fashion_scenes.source import default_source
from wsvision.datasets.fashion_scenes.variants import VARIANTS, build_variant
from wsvision.datasets.io import DataError, read_image

SOURCE = default_source()
pytestmark = pytest.mark.skipif(
    not os.path.isdir(SOURCE),
    reason=f'Fashion-MNIST not found at {SOURCE} (install Debian package '
    'dataset-fashion-mnist or set WSV_FASHION_MNIST to a folder holding it)')

SETTINGS = dict(preset='tiny', seed=1, num_train=60, max_items=4,
                fewshot_shots=(1, 2, 3), fewshot_seeds=2, foggy_num_train=6,
                foggy_num_val=4, foggy_num_test=12, ps_num_train=30,
                ps_num_val=105, ps_num_test=110, ps_gallery_size=100)


def load(*parts):
    with open(os.path.join(*parts)) as f:
        return json.load(f)


@pytest.fixture(scope='module')
def built(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('fashion_scenes_variants'))
    for variant in VARIANTS:
        build_variant(out, variant, **SETTINGS)
    return out


def test_class_splits():
    # Category id = Fashion-MNIST label + 1 (t-shirt/top 1 ... ankle boot 10).
    assert class_split(1)['novel_ids'] == [7, 6, 9]
    assert class_split(2)['novel_ids'] == [3, 8, 2]
    assert class_split(3)['novel_ids'] == [5, 10, 4]
    assert class_split(1)['base_ids'] == [1, 2, 3, 4, 5, 8, 10]
    assert class_split(3)['novel_classes'] == ['coat', 'ankle boot', 'dress']
    with pytest.raises(ValueError, match='class split must be one of'):
        class_split(4)


def test_fewshot_base_training_sets(built):
    train = load(built, 'train', 'instances.json')
    splits = load(built, 'fewshot', 'splits.json')
    assert splits['shots'] == [1, 2, 3] and splits['seeds'] == [0, 1]
    for split in ('1', '2', '3'):
        assert splits['splits'][split] == class_split(int(split))
        base_ids = set(splits['splits'][split]['base_ids'])
        base = load(built, 'fewshot', f'split{split}_base_train.json')
        expected = [a for a in train['annotations']
                    if a['category_id'] in base_ids]
        assert base['annotations'] == expected
        assert {i['id'] for i in base['images']} == {
            a['image_id'] for a in expected}
        assert base['info']['image_dir'] == 'train'


def test_fewshot_k_shot_files(built):
    train = load(built, 'train', 'instances.json')
    by_id = {a['id']: a for a in train['annotations']}
    for seed in (0, 1):
        for shots in (1, 2, 3):
            files = [load(built, 'fewshot', f'seed{seed}',
                          f'split{split}_{shots}shot.json')
                     for split in (1, 2, 3)]
            for data in files:
                counts = Counter(a['category_id'] for a in data['annotations'])
                assert counts == {category: shots for category in range(1, 11)}
                for annotation in data['annotations']:
                    assert by_id[annotation['id']] == annotation
                assert {i['id'] for i in data['images']} == {
                    a['image_id'] for a in data['annotations']}
            # The per-class draws are shared by the splits (TFA protocol).
            assert files[0]['annotations'] == files[2]['annotations']
            assert files[1]['info']['novel_ids'] == [3, 8, 2]
    first = load(built, 'fewshot', 'seed0', 'split1_3shot.json')
    second = load(built, 'fewshot', 'seed1', 'split1_3shot.json')
    assert first['annotations'] != second['annotations']


def test_ovd_train_has_no_novel_boxes(built):
    train = load(built, 'train', 'instances.json')
    ovd = load(built, 'ovd', 'instances_train_base.json')
    classes = load(built, 'ovd', 'classes.json')
    assert classes['novel_classes'] == ['shirt', 'sandal', 'bag']
    novel = set(classes['novel_ids'])
    assert not any(a['category_id'] in novel for a in ovd['annotations'])
    assert ovd['images'] == train['images']
    assert len(ovd['annotations']) == sum(
        a['category_id'] not in novel for a in train['annotations'])
    assert any(a['category_id'] in novel for a in train['annotations'])


def test_variant_refuses_core_built_with_other_settings(built):
    with pytest.raises(DataError, match='num_train: 60 != 61'):
        build_variant(built, 'ovd', **dict(SETTINGS, num_train=61))


def local_contrast(image):
    """RMS of the high-pass image: fog's spatially varying haze adds a smooth
    gradient, so the global standard deviation is no measure of contrast."""
    pixels = image.astype(np.float32)
    return float((pixels - cv2.GaussianBlur(pixels, (0, 0), 3)).std())


def test_fog_lowers_contrast_deterministically(built):
    clean = [read_image(os.path.join(built, 'train', 'images',
                                     f'{i:06d}.png')) for i in range(10)]
    params = PRESETS['tiny']
    for index, image in enumerate(clean):
        foggy = apply_fog(np.random.default_rng(index), image, params)
        again = apply_fog(np.random.default_rng(index), image, params)
        np.testing.assert_array_equal(foggy, again)
        assert local_contrast(foggy) < 0.7 * local_contrast(image)


def test_foggy_layout_and_determinism(built, tmp_path):
    root = os.path.join(built, 'foggy')
    train_files = set(os.listdir(os.path.join(root, 'train')))
    assert train_files == {'images', 'masks_hidden', 'instances_hidden.json',
                           'image_list.json'}
    hidden = load(root, 'train', 'instances_hidden.json')
    assert load(root, 'train', 'image_list.json') == hidden['images']
    assert len(hidden['images']) == 6
    for split, count in (('val', 4), ('test', 12)):
        assert len(load(root, split, 'instances.json')['images']) == count
        assert len(os.listdir(os.path.join(root, split, 'masks'))) == count
    foggy = [read_image(os.path.join(root, 'test', 'images', f'{i:06d}.png'))
             for i in range(12)]
    core = [read_image(os.path.join(built, 'test', 'images', f'{i:06d}.png'))
            for i in range(8)]
    assert np.mean([local_contrast(i) for i in foggy]) < 0.7 * np.mean(
        [local_contrast(i) for i in core])
    again = str(tmp_path / 'again')
    build_variant(again, 'foggy', **SETTINGS)
    for name in ('000000.png', '000011.png'):
        with open(os.path.join(root, 'test', 'images', name), 'rb') as f, \
                open(os.path.join(again, 'foggy', 'test', 'images', name),
                     'rb') as g:
            assert f.read() == g.read()


def identity_scenes(annotations, identity_of):
    scenes = defaultdict(list)
    for annotation in annotations:
        identity = identity_of[annotation['id']]
        if identity >= 0:
            scenes[identity].append(annotation['image_id'])
    return scenes


def test_person_search_train_hides_identities(built):
    root = os.path.join(built, 'person_search', 'train')
    coco = load(root, 'instances.json')
    hidden = load(root, 'identities_hidden.json')
    assert len(coco['images']) == 30
    for annotation in coco['annotations']:
        assert 'identity' not in annotation
        assert 'source_index' not in annotation
    identity_of = {int(k): v for k, v in hidden['identities'].items()}
    assert set(identity_of) == {a['id'] for a in coco['annotations']}
    scenes = identity_scenes(coco['annotations'], identity_of)
    assert sorted(scenes) == list(range(hidden['num_identities']))
    for images in scenes.values():
        assert 2 <= len(images) <= 4 and len(set(images)) == len(images)


@pytest.mark.parametrize('split', ['val', 'test'])
def test_person_search_queries_and_galleries(built, split):
    root = os.path.join(built, 'person_search', split)
    coco = load(root, 'instances.json')
    queries = load(root, 'queries.json')
    galleries = load(root, 'gallery.json')
    annotations = {a['id']: a for a in coco['annotations']}
    scenes = identity_scenes(coco['annotations'],
                             {i: a['identity'] for i, a in annotations.items()})
    # Each identity is one Fashion-MNIST image.
    sources = defaultdict(set)
    for annotation in coco['annotations']:
        if annotation['identity'] >= 0:
            sources[annotation['identity']].add(annotation['source_index'])
    assert all(len(s) == 1 for s in sources.values())
    assert [q['identity'] for q in queries] == sorted(scenes)
    assert len(galleries) == len(queries) > 0
    for query in queries:
        annotation = annotations[query['annotation_id']]
        assert annotation['image_id'] == query['image_id']
        assert annotation['bbox'] == query['bbox']
        assert annotation['identity'] == query['identity']
        gallery = galleries[str(query['query_id'])]
        others = set(scenes[query['identity']]) - {query['image_id']}
        assert 2 <= len(others) + 1 <= 4
        assert len(gallery) == len(set(gallery)) == 100
        assert query['image_id'] not in gallery
        assert others <= set(gallery)
        assert len(set(gallery) - others) == 100 - len(others)


def test_person_search_splits_hold_disjoint_identities(built):
    """train, val and test draw their identities from disjoint Fashion-MNIST
    images (train, and the two halves of test)."""
    sources = {}
    for split in ('val', 'test'):
        coco = load(built, 'person_search', split, 'instances.json')
        assert len(coco['images']) == SETTINGS[f'ps_num_{split}']
        sources[split] = {a['source_index'] for a in coco['annotations']
                          if a['identity'] >= 0}
    assert sources['val'] and sources['test']
    assert not sources['val'] & sources['test']
    meta = load(built, 'person_search', 'meta.json')
    assert meta['splits'] == {'train': 30, 'val': 105, 'test': 110}
    assert set(meta['queries']) == {'val', 'test'}


@pytest.mark.parametrize('split', ['val', 'test'])
def test_person_search_needs_large_enough_search_splits(tmp_path, split):
    with pytest.raises(ValueError, match=f'ps_num_{split} .* must exceed'):
        build_variant(str(tmp_path), 'person_search',
                      **dict(SETTINGS, **{f'ps_num_{split}': 100}))


def test_unknown_variant():
    with pytest.raises(ValueError, match="unknown FashionScenes variant 'fog'"):
        build_variant('/nonexistent', 'fog', preset='tiny')


def test_variant_builds_missing_core(tmp_path):
    out = str(tmp_path)
    summary = build_variant(out, 'ovd', preset='tiny', seed=2, num_train=10)
    assert summary['novel_ids'] == [7, 6, 9]
    assert load(out, 'meta.json')['splits'] == {'train': 10, 'val': 8,
                                                 'test': 8}
    reference = str(tmp_path / 'reference')
    build_fashion_scenes(reference, preset='tiny', seed=2, num_train=10)
    assert load(out, 'train', 'instances.json') == load(
        reference, 'train', 'instances.json')
