"""PETCTGroundingDataset: samples, label sources, leak guard and errors."""
import os
import shutil

import numpy as np
import pytest
import torch

from wsvision.datasets.io import DataError
from wsvision.datasets.petct.dataset import PETCTGroundingDataset
from wsvision.datasets.petct.layout import PETCTLayout
from wsvision.datasets.petct.report_text import find_mentions
from wsvision.registry import DATASETS


def test_true_label_samples(tiny_phantom):
    dataset = DATASETS.build(dict(type='PETCTGroundingDataset',
                                  data_root=tiny_phantom, split='test',
                                  label_source='true', test_mode=True))
    layout = PETCTLayout(tiny_phantom)
    truth = [row for row in layout.ground_truth_sentences()
             if row['lesion_id'] > 0 and row['exam_id'].startswith('test')]
    assert len(dataset) == len(truth)
    item = dataset[0]
    inputs, sample = item['inputs'], item['data_samples']
    assert inputs.shape == (2, 32, 32, 48) and inputs.dtype == torch.float32
    assert 0.0 <= inputs.min() and inputs.max() <= 1.0
    # The mask is exactly the referenced lesion of the ground truth.
    lesions = layout.load_label(layout.lesion_mask_path(sample.exam_id),
                                (32, 32, 48))
    np.testing.assert_array_equal(sample.gt_mask[0].numpy(),
                                  lesions == truth[0]['lesion_id'])
    # PET channel: SUV / 10 clipped; CT channel: (HU + 150) / 400 clipped.
    pet, ct, _ = layout.load_exam(sample.exam_id)
    np.testing.assert_allclose(inputs[0].numpy(), np.clip(pet / 10, 0, 1),
                               atol=1e-6)
    np.testing.assert_allclose(inputs[1].numpy(),
                               np.clip((ct + 150) / 400, 0, 1), atol=1e-6)


def test_leak_guard_in_samples(tiny_phantom):
    dataset = PETCTGroundingDataset(tiny_phantom, split='train',
                                    label_source='weak', test_mode=True)
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        mentions = find_mentions(info['sentence'])
        assert mentions.slices and mentions.suvs  # kept sentences name both
        guarded = find_mentions(info['text'])
        assert guarded.slices == () and guarded.suvs == ()
    unguarded = PETCTGroundingDataset(tiny_phantom, split='train',
                                      label_source='weak', leak_guard=False,
                                      test_mode=True)
    assert unguarded.get_data_info(0)['text'] == \
        unguarded.get_data_info(0)['sentence']


def test_training_crops(tiny_phantom):
    dataset = PETCTGroundingDataset(tiny_phantom, split='train',
                                    label_source='weak',
                                    crop_size=(16, 16, 16), seed=1)
    item = dataset[0]
    assert item['inputs'].shape == (2, 16, 16, 16)
    assert item['data_samples'].gt_mask.shape == (1, 16, 16, 16)


def test_missing_weak_labels_and_bad_source(tiny_phantom, tmp_path):
    root = str(tmp_path / 'copy')
    shutil.copytree(tiny_phantom, root,
                    ignore=shutil.ignore_patterns('weak_labels'))
    with pytest.raises(DataError, match='run tools/data/make_petct_labels'):
        PETCTGroundingDataset(root, split='train', label_source='weak')
    with pytest.raises(ValueError, match='label_source'):
        PETCTGroundingDataset(root, label_source='manual')
    with pytest.raises(DataError, match="no split 'holdout'"):
        PETCTGroundingDataset(root, split='holdout', label_source='true')


def test_volume_on_a_wrong_grid_is_named(tiny_phantom, tmp_path):
    from wsvision.datasets.petct.nifti import save_volume
    root = str(tmp_path / 'copy')
    shutil.copytree(tiny_phantom, root)
    dataset = PETCTGroundingDataset(root, split='test', label_source='true',
                                    test_mode=True)
    exam = dataset.get_data_info(0)['exam_id']
    save_volume(os.path.join(root, 'images', f'{exam}_ct.nii.gz'),
                np.zeros((32, 32, 40), np.float32), (1.0, 1.0, 1.0))
    with pytest.raises(DataError, match=f'{exam}_ct.nii.gz: \\(32, 32, 40\\)'):
        dataset[0]
