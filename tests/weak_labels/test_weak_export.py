"""Sources, export and the make_weak_labels command line on tiny datasets."""
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from tests.conftest import load_tool
from wsvision.datasets.io import DataError, read_label_png, write_label_png
from wsvision.structures import IGNORE_INDEX, UNLABELLED
from wsvision.weak_labels import (WEAK_LABEL_TYPES, CocoSplitSource,
                                  MaskFolderSource, MaskSample,
                                  build_weak_labeler, export_weak_labels,
                                  image_rng)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(REPO, 'tools', 'data', 'make_weak_labels.py')


def variants(scene):
    """Three scenes: the original and two flips, keyed by file stem."""
    flips = {'000000': lambda a: a, '000001': np.fliplr, '000002': np.flipud}
    return {stem: (np.ascontiguousarray(flip(scene.semantic)),
                   [(np.ascontiguousarray(flip(inst.mask)), inst.class_id)
                    for inst in scene.instances])
            for stem, flip in flips.items()}


def write_dataset(root, scenes, split='train'):
    """A FashionScenes-layout split: images, masks and COCO instances with RLE."""
    split_dir = os.path.join(root, split)
    os.makedirs(os.path.join(split_dir, 'images'), exist_ok=True)
    with open(os.path.join(root, 'meta.json'), 'w') as f:
        json.dump({'classes': [str(i) for i in range(1, 11)]}, f)
    images, annotations = [], []
    for image_id, (stem, (semantic, instances)) in enumerate(sorted(scenes.items())):
        height, width = semantic.shape
        cv2.imwrite(os.path.join(split_dir, 'images', f'{stem}.png'),
                    np.zeros((height, width, 3), np.uint8))
        write_label_png(os.path.join(split_dir, 'masks', f'{stem}.png'), semantic)
        images.append(dict(id=image_id, file_name=f'images/{stem}.png',
                           height=height, width=width))
        for mask, class_id in instances:
            rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
            annotations.append(dict(
                id=len(annotations), image_id=image_id, category_id=class_id,
                segmentation=dict(size=rle['size'],
                                  counts=rle['counts'].decode('ascii')),
                bbox=mask_utils.toBbox(rle).tolist(),
                area=int(mask.sum()), iscrowd=0))
    with open(os.path.join(split_dir, 'instances.json'), 'w') as f:
        json.dump(dict(images=images, annotations=annotations,
                       categories=[dict(id=i, name=str(i)) for i in range(1, 11)]),
                  f)
    return split_dir


@pytest.fixture
def dataset(tmp_path, shapes_scene):
    scenes = variants(shapes_scene)
    write_dataset(str(tmp_path / 'fashion_scenes'), scenes)
    return str(tmp_path / 'fashion_scenes'), scenes


def test_coco_split_source_reads_masks_and_instances(dataset):
    root, scenes = dataset
    samples = list(CocoSplitSource(os.path.join(root, 'train')))
    assert [s.stem for s in samples] == sorted(scenes)
    for sample in samples:
        semantic, instances = scenes[sample.stem]
        np.testing.assert_array_equal(sample.semantic, semantic)
        assert [i.class_id for i in sample.instances] == [c for _, c in instances]
        for got, (mask, _) in zip(sample.instances, instances):
            np.testing.assert_array_equal(got.mask, mask)


def test_cli_round_trip(dataset):
    root, scenes = dataset
    load_tool('data', 'make_weak_labels.py').main(['--data', root, '--split', 'train', '--type', 'all',
                     '--seed', '0', '--no-progress'])
    weak_dir = os.path.join(root, 'train', 'weak')
    coco = json.load(open(os.path.join(root, 'train', 'instances.json')))
    for weak_type in WEAK_LABEL_TYPES:
        labeler = build_weak_labeler(weak_type)
        meta = json.load(open(os.path.join(weak_dir, weak_type, 'meta.json')))
        assert meta['seed'] == 0 and meta['num_images'] == 3
        assert meta['labeler'] == labeler.config
        if labeler.output != 'sparse':
            continue
        labelled = labellable = 0
        for stem, (semantic, instances) in scenes.items():
            stored = read_label_png(os.path.join(weak_dir, weak_type, f'{stem}.png'))
            expected = labeler(semantic, instances, image_rng(0, stem)).sparse_mask
            np.testing.assert_array_equal(stored, expected)
            assert ((stored == UNLABELLED) | (stored == semantic)
                    ).all()
            np.testing.assert_array_equal(stored == IGNORE_INDEX, semantic == 255)
            labelled += np.count_nonzero(stored < UNLABELLED)
            labellable += np.count_nonzero(stored != IGNORE_INDEX)
        assert meta['stats']['labelled_fraction'] == pytest.approx(
            labelled / labellable)
    fractions = {t: json.load(open(os.path.join(weak_dir, t, 'meta.json')))
                 ['stats']['labelled_fraction'] for t in ('blocks10', 'blocks20',
                                                          'blocks50')}
    assert fractions['blocks50'] == pytest.approx(0.5, abs=0.02)
    assert fractions['blocks20'] == pytest.approx(0.2, abs=0.02)
    assert fractions['blocks10'] == pytest.approx(0.1, abs=0.02)

    tags = json.load(open(os.path.join(weak_dir, 'tags.json')))
    assert tags == {stem: [1, 2, 3, 4, 5, 6, 7, 8] for stem in scenes}
    boxes = json.load(open(os.path.join(weak_dir, 'boxes.json')))
    stems = {image['id']: image['file_name'][7:-4] for image in coco['images']}
    expected_boxes = {stem: [] for stem in scenes}
    for annotation in coco['annotations']:
        x, y, w, h = annotation['bbox']
        expected_boxes[stems[annotation['image_id']]].append(
            [x, y, x + w, y + h, annotation['category_id']])
    assert boxes == expected_boxes


def test_output_does_not_depend_on_order_or_on_other_types(dataset, tmp_path):
    root, scenes = dataset
    labelers = {'scribbles': build_weak_labeler('scribbles'),
                'points': build_weak_labeler('points')}
    samples = [MaskSample(stem, semantic, [tuple(i) for i in instances])
               for stem, (semantic, instances) in sorted(scenes.items())]
    export_weak_labels(samples, labelers, str(tmp_path / 'a'), seed=5,
                       progress=False)
    export_weak_labels(samples[::-1], {'points': labelers['points']},
                       str(tmp_path / 'b'), seed=5, progress=False)
    export_weak_labels(samples, {'points': labelers['points']},
                       str(tmp_path / 'c'), seed=6, progress=False)
    differs = False
    for stem in scenes:
        a = read_label_png(str(tmp_path / 'a' / 'points' / f'{stem}.png'))
        b = read_label_png(str(tmp_path / 'b' / 'points' / f'{stem}.png'))
        c = read_label_png(str(tmp_path / 'c' / 'points' / f'{stem}.png'))
        np.testing.assert_array_equal(a, b)
        differs |= not np.array_equal(a, c)
    assert differs


def test_cli_on_a_plain_mask_folder(tmp_path, shapes_scene):
    masks_dir = tmp_path / 'SegmentationClass'
    for stem, (semantic, _) in variants(shapes_scene).items():
        write_label_png(str(masks_dir / f'{stem}.png'), semantic)
    load_tool('data', 'make_weak_labels.py').main(['--masks', str(masks_dir), '--type', 'points',
                     '--seed', '1', '--no-progress'])
    out_dir = tmp_path / 'weak' / 'points'
    labeler = build_weak_labeler('points')
    for stem, (semantic, _) in variants(shapes_scene).items():
        stored = read_label_png(str(out_dir / f'{stem}.png'))
        # No instances: one click per connected component of each class.
        expected = labeler(semantic, None, image_rng(1, stem)).sparse_mask
        np.testing.assert_array_equal(stored, expected)
        assert np.count_nonzero(stored == 1) == 1
        assert np.count_nonzero(stored == 6) == 2
    meta = json.load(open(out_dir / 'meta.json'))
    assert meta['source'] == str(masks_dir) and meta['num_images'] == 3


def test_cli_runs_as_a_script(dataset, tmp_path):
    root, _ = dataset
    out = tmp_path / 'out'
    result = subprocess.run(
        [sys.executable, SCRIPT, '--data', root, '--type', 'tags', '--out',
         str(out)], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    assert 'weak labels' in result.stderr             # the tqdm bar
    assert set(json.load(open(out / 'tags.json'))) == {'000000', '000001',
                                                       '000002'}


def test_sources_name_the_bad_file(tmp_path, shapes_scene):
    scenes = variants(shapes_scene)
    split_dir = write_dataset(str(tmp_path / 'data'), scenes)
    annotation_file = os.path.join(split_dir, 'instances.json')
    coco = json.load(open(annotation_file))
    coco['annotations'][0]['category_id'] = 9
    json.dump(coco, open(annotation_file, 'w'))
    with pytest.raises(DataError, match=r'annotations\[0\]: fewer than half'):
        list(CocoSplitSource(split_dir))
    del coco['annotations'][1]['segmentation']
    json.dump(coco, open(annotation_file, 'w'))
    with pytest.raises(DataError,
                       match=r"annotations\[1\]: missing key 'segmentation'"):
        CocoSplitSource(split_dir)
    os.remove(os.path.join(split_dir, 'masks', '000001.png'))
    coco['annotations'] = []
    json.dump(coco, open(annotation_file, 'w'))
    with pytest.raises(DataError, match='000001.png'):
        list(CocoSplitSource(split_dir))
    with pytest.raises(DataError, match='no masks matching'):
        MaskFolderSource(str(tmp_path), pattern='*.tif')
