"""Slice-number convention and NIfTI reading, writing and validation."""
import nibabel as nib
import numpy as np
import pytest

from wsvision.datasets.io import DataError
from wsvision.datasets.petct.nifti import (check_same_grid, load_volume,
                                           save_volume)
from wsvision.datasets.petct.slices import index_to_slice, slice_to_index


def test_slice_flip_superior_first():
    # 64 slices, slice 1 is the most superior one: array index 63.
    assert slice_to_index(1, 64, 'superior_first') == 63
    assert slice_to_index(64, 64, 'superior_first') == 0
    assert slice_to_index(20, 64, 'superior_first') == 44
    assert index_to_slice(44, 64, 'superior_first') == 20


def test_slice_inferior_first_is_one_based():
    assert slice_to_index(1, 64, 'inferior_first') == 0
    assert index_to_slice(63, 64, 'inferior_first') == 64


@pytest.mark.parametrize('convention', ['superior_first', 'inferior_first'])
def test_slice_round_trip(convention):
    for index in range(48):
        assert slice_to_index(index_to_slice(index, 48, convention), 48,
                              convention) == index


def test_slice_errors():
    with pytest.raises(ValueError, match='outside 1..64'):
        slice_to_index(65, 64, 'superior_first')
    with pytest.raises(ValueError, match='outside 1..64'):
        slice_to_index(0, 64, 'superior_first')
    with pytest.raises(ValueError, match='unknown slice convention'):
        slice_to_index(3, 64, 'head_first')


def test_nifti_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    volume = rng.normal(size=(5, 6, 7)).astype(np.float32)
    path = str(tmp_path / 'pet.nii.gz')
    save_volume(path, volume, (2.0, 3.0, 4.0))
    loaded, spacing = load_volume(path)
    np.testing.assert_array_equal(loaded, volume)
    assert spacing == (2.0, 3.0, 4.0)
    labels = (volume > 0).astype(np.int16)
    save_volume(str(tmp_path / 'lab.nii.gz'), labels, (2.0, 3.0, 4.0))
    loaded, _ = load_volume(str(tmp_path / 'lab.nii.gz'), dtype=np.int32)
    np.testing.assert_array_equal(loaded, labels)


def test_nifti_is_reoriented_to_ras(tmp_path):
    # The same anatomy stored with the superior axis flipped (an LPS-like
    # series) must read back identically.
    volume = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    flipped_affine = np.diag([1.0, 1.0, -1.0, 1.0])
    flipped_affine[2, 3] = 3.0
    path = str(tmp_path / 'flipped.nii.gz')
    nib.save(nib.Nifti1Image(volume[:, :, ::-1].copy(), flipped_affine), path)
    loaded, _ = load_volume(path)
    np.testing.assert_array_equal(loaded, volume)


def test_trailing_unit_axis_is_accepted(tmp_path):
    path = str(tmp_path / 'four_d.nii.gz')
    nib.save(nib.Nifti1Image(np.ones((3, 3, 3, 1), np.float32), np.eye(4)),
             path)
    assert load_volume(path)[0].shape == (3, 3, 3)


@pytest.mark.parametrize('shape', [(4, 4), (3, 3, 3, 2)])
def test_wrong_dimensions_are_refused(tmp_path, shape):
    path = str(tmp_path / 'bad.nii.gz')
    nib.save(nib.Nifti1Image(np.ones(shape, np.float32), np.eye(4)), path)
    with pytest.raises(DataError, match=r'bad\.nii\.gz has shape .*expected '
                       r'a 3-D volume'):
        load_volume(path, 'PET volume')


def test_nan_voxels_are_refused(tmp_path):
    volume = np.ones((4, 4, 4), np.float32)
    volume[1, 2, 3] = np.nan
    volume[0, 0, 0] = np.inf
    path = str(tmp_path / 'nan.nii.gz')
    nib.save(nib.Nifti1Image(volume, np.eye(4)), path)
    with pytest.raises(DataError, match=r'PET volume .*nan\.nii\.gz holds 2 '
                       'NaN or infinite voxels'):
        load_volume(path, 'PET volume')


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(DataError, match='CT volume not found'):
        load_volume(str(tmp_path / 'absent.nii.gz'), 'CT volume')
    corrupt = tmp_path / 'corrupt.nii.gz'
    corrupt.write_bytes(b'not a nifti file')
    with pytest.raises(DataError, match='corrupt or unreadable CT volume'):
        load_volume(str(corrupt), 'CT volume')


def test_grids_must_match():
    check_same_grid({'a': np.zeros((2, 2, 2)), 'b': np.zeros((2, 2, 2))})
    with pytest.raises(DataError, match=r'a: \(2, 2, 2\), b: \(2, 2, 3\)'):
        check_same_grid({'a': np.zeros((2, 2, 2)), 'b': np.zeros((2, 2, 3))})


def test_save_refuses_bad_input(tmp_path):
    with pytest.raises(ValueError, match='must be 3-D'):
        save_volume(str(tmp_path / 'x.nii.gz'), np.zeros((2, 2)), (1, 1, 1))
    with pytest.raises(ValueError, match='3 positive numbers'):
        save_volume(str(tmp_path / 'x.nii.gz'), np.zeros((2, 2, 2)), (1, 0, 1))
