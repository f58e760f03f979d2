"""FashionScenes core build: IDX reading, determinism and ground-truth checks."""
import gzip
import json
import os

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from wsvision.datasets.fashion_scenes import (FASHION_CLASSES, SEG_CLASSES,
                                              build_fashion_scenes,
                                              load_fashion_mnist)
from wsvision.datasets.fashion_scenes.builder import item_pool
from wsvision.datasets.fashion_scenes.compose import (SceneConfig, SourceItem,
                                                      _make_layer,
                                                      compose_scene)
from wsvision.datasets.fashion_scenes.source import default_source, read_idx
from wsvision.datasets.io import DataError, read_image, read_label_png

SOURCE = default_source()
needs_fashion_mnist = pytest.mark.skipif(
    not os.path.isdir(SOURCE),
    reason=f'Fashion-MNIST not found at {SOURCE} (install Debian package '
    'dataset-fashion-mnist or set WSV_FASHION_MNIST to a folder holding it)')

SMALL = dict(preset='tiny', num_train=12, num_val=6, num_test=6)


def write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b''.join(
        int(n).to_bytes(4, 'big') for n in array.shape)
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'wb') as f:
        f.write(header + array.astype(np.uint8).tobytes())


def tree_bytes(root):
    files = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, 'rb') as f:
                files[os.path.relpath(path, root)] = f.read()
    return files


@pytest.fixture(scope='module')
def small_build(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('fashion_scenes'))
    meta = build_fashion_scenes(out, seed=3, **SMALL)
    return out, meta


def test_read_idx_round_trip_and_bad_magic(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = str(tmp_path / 'images-idx3-ubyte.gz')
    write_idx(path, images)
    np.testing.assert_array_equal(read_idx(path, expected_ndim=3), images)
    with pytest.raises(DataError, match='magic number 0x00000803.*expected '
                       '0x00000801') as error:
        read_idx(path, expected_ndim=1)
    assert path in str(error.value)
    truncated = str(tmp_path / 'short-idx1-ubyte')
    with open(truncated, 'wb') as f:
        f.write(bytes([0, 0, 8, 1]) + (5).to_bytes(4, 'big') + b'abc')
    with pytest.raises(DataError, match='header declares shape'):
        read_idx(truncated, expected_ndim=1)


def test_torchvision_layout_and_missing_files(tmp_path):
    raw = tmp_path / 'FashionMNIST' / 'raw'
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    write_idx(str(raw / 't10k-images-idx3-ubyte'),
              rng.integers(0, 256, (5, 28, 28)))
    write_idx(str(raw / 't10k-labels-idx1-ubyte'), np.arange(5))
    split = load_fashion_mnist('test', source=str(tmp_path))
    assert split.images.shape == (5, 28, 28)
    np.testing.assert_array_equal(split.labels, np.arange(5))
    with pytest.raises(DataError, match='train-images-idx3-ubyte'):
        load_fashion_mnist('train', source=str(tmp_path))
    missing = str(tmp_path / 'nowhere')
    with pytest.raises(DataError) as error:
        build_fashion_scenes(str(tmp_path / 'out'), source=missing, **SMALL)
    assert str(error.value) == f'Fashion-MNIST folder not found: {missing}'


def test_labels_out_of_range_rejected(tmp_path):
    write_idx(str(tmp_path / 't10k-images-idx3-ubyte.gz'),
              np.zeros((2, 28, 28)))
    write_idx(str(tmp_path / 't10k-labels-idx1-ubyte.gz'), np.array([1, 12]))
    with pytest.raises(DataError, match='label 12'):
        load_fashion_mnist('test', source=str(tmp_path))


@needs_fashion_mnist
def test_real_fashion_mnist_and_split_pools():
    train = load_fashion_mnist('train')
    test = load_fashion_mnist('test')
    assert train.images.shape == (60000, 28, 28)
    assert test.images.shape == (10000, 28, 28)
    np.testing.assert_array_equal(np.bincount(train.labels), [6000] * 10)
    _, val_pool = item_pool('val', None, seed=0)
    _, test_pool = item_pool('test', None, seed=0)
    assert len(val_pool) == len(test_pool) == 5000
    assert not set(val_pool) & set(test_pool)
    assert len(FASHION_CLASSES) == 10 and SEG_CLASSES[0] == 'background'
    assert SEG_CLASSES[1:] == FASHION_CLASSES


@needs_fashion_mnist
def test_build_is_deterministic_and_seed_dependent(small_build, tmp_path):
    out, _ = small_build
    again = str(tmp_path / 'again')
    build_fashion_scenes(again, seed=3, **SMALL)
    assert tree_bytes(out) == tree_bytes(again)
    other = str(tmp_path / 'other')
    build_fashion_scenes(other, seed=4, **SMALL)
    first, second = tree_bytes(out), tree_bytes(other)
    assert first.keys() == second.keys()
    assert first['train/images/000000.png'] != second['train/images/000000.png']


@needs_fashion_mnist
def test_scenes_do_not_depend_on_scene_count(small_build, tmp_path):
    out, _ = small_build
    fewer = str(tmp_path / 'fewer')
    build_fashion_scenes(fewer, seed=3, splits=['train'],
                         **dict(SMALL, num_train=5))
    reference = tree_bytes(os.path.join(out, 'train', 'images'))
    assert tree_bytes(os.path.join(fewer, 'train', 'images')) == {
        name: data for name, data in reference.items() if name < '000005'}


@needs_fashion_mnist
def test_meta_and_layout(small_build):
    out, meta = small_build
    with open(os.path.join(out, 'meta.json')) as f:
        assert json.load(f) == meta
    assert meta['name'] == 'fashion_scenes' and meta['seed'] == 3
    assert meta['classes'] == list(FASHION_CLASSES)
    assert meta['seg_classes'] == list(SEG_CLASSES)
    assert meta['splits'] == {'train': 12, 'val': 6, 'test': 6}
    assert meta['canvas'] == meta['params']['canvas'] == 64
    for split, count in meta['splits'].items():
        names = sorted(os.listdir(os.path.join(out, split, 'images')))
        assert names == [f'{i:06d}.png' for i in range(count)]
        assert sorted(os.listdir(os.path.join(out, split, 'masks'))) == names
        image = read_image(os.path.join(out, split, 'images', names[0]))
        assert image.shape == (64, 64, 3)
        # A textured background, not a flat colour.
        assert image.reshape(-1, 3).std(axis=0).max() > 5


@needs_fashion_mnist
@pytest.mark.parametrize('split', ['train', 'val', 'test'])
def test_instances_agree_with_masks(small_build, split):
    out, _ = small_build
    coco = COCO(os.path.join(out, split, 'instances.json'))
    assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == list(
        FASHION_CLASSES)
    for image_info in coco.loadImgs(coco.getImgIds()):
        semantic = read_label_png(os.path.join(out, split, 'masks',
                                               f'{image_info["id"]:06d}.png'))
        annotations = coco.loadAnns(coco.getAnnIds(imgIds=image_info['id']))
        assert 1 <= len(annotations) <= 3
        covered = np.zeros(semantic.shape, bool)
        for annotation in annotations:
            visible = coco.annToMask(annotation).astype(bool)
            assert not (visible & covered).any()  # visible masks are disjoint
            covered |= visible
            assert (semantic[visible] == annotation['category_id']).all()
            assert annotation['area'] == visible.sum()
            assert annotation['visible_fraction'] >= 0.6
            # The box is tight: every edge row / column holds a mask pixel.
            x, y, w, h = annotation['bbox']
            assert visible[y:y + h, x:x + w].sum() == visible.sum()
            assert visible[y, x:x + w].any() and visible[y + h - 1, x:x + w].any()
            assert visible[y:y + h, x].any() and visible[y:y + h, x + w - 1].any()
            np.testing.assert_array_equal(
                mask_utils.toBbox(annotation['segmentation']), [x, y, w, h])
        np.testing.assert_array_equal(covered, semantic > 0)
        z_orders = sorted(a['z_order'] for a in annotations)
        assert z_orders == list(range(len(annotations)))


@needs_fashion_mnist
def test_items_come_from_the_right_fashion_mnist_split(small_build):
    out, _ = small_build
    for split in ('train', 'val', 'test'):
        fmnist, pool = item_pool(split, None, seed=3)
        with open(os.path.join(out, split, 'instances.json')) as f:
            annotations = json.load(f)['annotations']
        for annotation in annotations:
            assert annotation['source_index'] in pool
            assert fmnist.labels[annotation['source_index']] + 1 == \
                annotation['category_id']


@needs_fashion_mnist
def test_occlusion_keeps_sixty_percent_visible():
    """Crowded scenes: the 60% rule holds for every item, small ones too."""
    fmnist = load_fashion_mnist('test')
    config = SceneConfig(canvas=48, item_size=(8, 40))
    for index in range(20):
        rng = np.random.default_rng(index)
        items = [SourceItem(fmnist.images[i], int(fmnist.labels[i]) + 1, int(i))
                 for i in rng.integers(0, 10000, size=6)]
        scene = compose_scene(rng, items, config)
        assert 1 <= len(scene.items) <= 6
        for position, item in enumerate(scene.items):
            full = _make_layer(items[item.input_index].grey, item.side,
                               config).silhouette.sum()
            visible = scene.visible_mask(position).sum()
            assert item.full_area == full and item.visible_area == visible
            assert visible >= 0.6 * full
        assert scene.owner.max() == len(scene.items) - 1


@needs_fashion_mnist
def test_colour_is_no_shortcut(small_build):
    """Item and background colours overlap: a colour histogram alone cannot
    separate them well."""
    out, meta = small_build
    pixels, labels = [], []
    for index in range(meta['splits']['train']):
        name = f'{index:06d}.png'
        pixels.append(read_image(os.path.join(out, 'train', 'images', name))
                      .reshape(-1, 3) // 64)
        labels.append(read_label_png(os.path.join(out, 'train', 'masks', name))
                      .reshape(-1) > 0)
    codes = np.concatenate(pixels) @ np.array([16, 4, 1])
    is_item = np.concatenate(labels)
    item_hist = np.bincount(codes[is_item], minlength=64) / is_item.sum()
    background_hist = np.bincount(codes[~is_item], minlength=64) / (~is_item).sum()
    assert np.minimum(item_hist, background_hist).sum() > 0.3


def test_bad_parameters_are_named(tmp_path):
    with pytest.raises(ValueError, match="unknown FashionScenes parameter 'sise'"):
        build_fashion_scenes(str(tmp_path), preset='tiny', sise=3)
    with pytest.raises(ValueError, match='item_size must satisfy'):
        build_fashion_scenes(str(tmp_path), preset='tiny', item_size=(10, 80))
    with pytest.raises(ValueError, match="unknown FashionScenes preset 'huge'"):
        build_fashion_scenes(str(tmp_path), preset='huge')


@needs_fashion_mnist
def test_rebuild_replaces_scenes_and_keeps_other_files(tmp_path):
    out = str(tmp_path)
    build_fashion_scenes(out, splits='train', **SMALL)
    weak_file = tmp_path / 'train' / 'weak' / 'points' / 'meta.json'
    weak_file.parent.mkdir(parents=True)
    weak_file.write_text('{}')
    meta = build_fashion_scenes(out, splits=['train'],
                                **dict(SMALL, num_train=3))
    assert sorted(os.listdir(tmp_path / 'train' / 'images')) == [
        '000000.png', '000001.png', '000002.png']
    assert weak_file.read_text() == '{}'
    assert meta['splits'] == {'train': 3}


@needs_fashion_mnist
def test_command_line(tmp_path, monkeypatch):
    tool = os.path.join(os.path.dirname(__file__), '..', '..', 'tools', 'data')
    monkeypatch.syspath_prepend(tool)
    from build_fashion_scenes import main
    out = str(tmp_path / 'cli')
    main(['--preset', 'tiny', '--out', out, '--seed', '5', '--canvas', '48',
          '--num-train', '3', '--num-val', '2', '--num-test', '2',
          '--item-size', '12', '24', '--max-items', '2', '--variant', 'ovd',
          '--set', 'noise_std=0.0'])
    with open(os.path.join(out, 'meta.json')) as f:
        meta = json.load(f)
    assert meta['seed'] == 5 and meta['splits'] == {'train': 3, 'val': 2,
                                                     'test': 2}
    assert meta['params']['item_size'] == [12, 24]
    assert meta['params']['noise_std'] == 0.0
    assert os.path.isfile(os.path.join(out, 'ovd', 'classes.json'))
    with pytest.raises(SystemExit, match="unknown FashionScenes parameter 'x'"):
        main(['--preset', 'tiny', '--out', out, '--set', 'x=1'])


def test_build_mismatch_names_what_differs(tiny_scenes, tmp_path, cli_env):
    """A build checks out against its own preset and names every difference
    otherwise; the CLI's --check exits 1 with that reason."""
    import subprocess
    import sys

    from tests.conftest import REPO
    from wsvision.datasets.fashion_scenes import build_mismatch
    assert build_mismatch(tiny_scenes, 'tiny', 0) is None
    reason = build_mismatch(tiny_scenes, 'tiny', 0, num_train=25, canvas=48)
    assert 'num_train 24 (now 25)' in reason and 'canvas 64 (now 48)' in reason
    assert 'seed 0, not' in build_mismatch(tiny_scenes, 'tiny', 1)
    assert "'tiny' build" in build_mismatch(tiny_scenes, 'cpu', 0)
    assert 'meta.json not found' in build_mismatch(str(tmp_path), 'tiny', 0)

    meta_path = os.path.join(tiny_scenes, 'meta.json')
    with open(meta_path) as f:
        meta_before = f.read()
    tool = os.path.join(REPO, 'tools', 'data', 'build_fashion_scenes.py')
    ok = subprocess.run([sys.executable, tool, '--preset', 'tiny', '--out',
                         tiny_scenes, '--check'], env=cli_env, capture_output=True,
                        text=True)
    assert ok.returncode == 0, ok.stderr
    stale = subprocess.run([sys.executable, tool, '--preset', 'tiny', '--out',
                            tiny_scenes, '--check', '--num-train', '25'],
                           env=cli_env, capture_output=True, text=True)
    assert stale.returncode == 1
    assert stale.stderr.strip().splitlines()[-1].startswith(
        'error: ') and 'num_train 24 (now 25)' in stale.stderr
    with open(meta_path) as f:
        assert f.read() == meta_before  # --check builds nothing
