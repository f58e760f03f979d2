"""Steps 6-7: the threshold formulas, component matching and iterative
thresholding."""
import numpy as np
import pytest
from scipy import ndimage

from wsvision.datasets.petct.voxel_labels import (background_uptake,
                                                  find_matching_component,
                                                  itm_threshold_ratio,
                                                  iterative_threshold,
                                                  match_threshold)


def test_match_threshold_by_hand():
    # (0.617 / 6.3 + 0.316) * 6.3 = 0.617 + 1.9908
    assert match_threshold(6.3) == pytest.approx(2.6078)
    assert match_threshold(2.5) == pytest.approx(0.617 + 0.79)


def test_itm_ratio_by_hand():
    # 0.078 / 2 + 0.617 * 1 / 10 + 0.316 = 0.039 + 0.0617 + 0.316
    assert itm_threshold_ratio(2.0, 1.0, 10.0) == pytest.approx(0.4167)
    # A 0.1 ml lesion: 0.78 + 0.0617 + 0.316 > 0.9 -> the pipeline aborts.
    assert itm_threshold_ratio(0.1, 1.0, 10.0) == pytest.approx(1.1577)


def blurred_sphere(shape=(48, 48, 48), center=(24, 24, 24), radius=8.0,
                   uptake=10.0, background=1.0, sigma=0.6):
    grid = np.indices(shape).astype(float)
    distance = np.sqrt(sum((g - c) ** 2 for g, c in zip(grid, center)))
    sphere = distance <= radius
    pet = np.where(sphere, uptake, background)
    return ndimage.gaussian_filter(pet, sigma).astype(np.float32), sphere


def test_iterative_threshold_converges_on_a_sphere_of_known_volume():
    pet, sphere = blurred_sphere()
    spacing = (4.0, 4.0, 4.0)
    start = pet >= match_threshold(float(pet.max()))
    label = iterative_threshold(pet, start, spacing)
    assert label.kept
    assert label.iterations < 20
    # Converged: the final ratio is the formula at the final volume, to 1%.
    volume_ml = label.mask.sum() * 64 / 1000
    expected = itm_threshold_ratio(volume_ml, label.background, label.suv_max)
    assert label.threshold_ratio == pytest.approx(expected, rel=0.01)
    # The grown label recovers the sphere's known volume: 4/3 pi 8^3 voxels.
    known_voxels = 4 / 3 * np.pi * 8.0 ** 3
    assert label.mask.sum() == pytest.approx(known_voxels, rel=0.05)
    dice = 2 * (label.mask & sphere).sum() / (label.mask.sum() + sphere.sum())
    assert dice > 0.9


def test_iterative_threshold_aborts_above_090():
    # A single hot voxel of 0.064 ml: 0.078 / 0.064 alone exceeds 0.9.
    pet = np.ones((9, 9, 9), np.float32)
    pet[4, 4, 4] = 10.0
    component = pet > 5
    label = iterative_threshold(pet, component, (4.0, 4.0, 4.0))
    assert label.drop_reason == 'itm_ratio_above_max'
    assert label.threshold_ratio > 0.9


def test_background_shell_mean():
    pet = np.full((11, 11, 11), 2.0, np.float32)
    mask = np.zeros_like(pet, bool)
    mask[5, 5, 5] = True
    pet[5, 5, 5] = 50.0
    assert background_uptake(pet, mask) == pytest.approx(2.0)


def two_lesion_volume():
    """Two hot spheres at z=10 (SUVmax 8) and z=30 (SUVmax 4), background 1."""
    pet = np.ones((24, 24, 40), np.float32)
    grid = np.indices(pet.shape)
    for center, value in (((12, 12, 10), 8.0), ((12, 12, 30), 4.0)):
        inside = sum((g - c) ** 2 for g, c in zip(grid, center)) <= 9
        pet[inside] = value
    return pet


def test_component_matches_slice_and_suv():
    pet = two_lesion_volume()
    mask, reason = find_matching_component(pet, slice_index=10, suv=8.0)
    assert reason is None and mask[12, 12, 10] and not mask[12, 12, 30]
    mask, reason = find_matching_component(pet, slice_index=30, suv=4.05)
    assert reason is None and mask[12, 12, 30]
    # Right slice, wrong SUV (beyond 0.1) or wrong slice: no match.
    assert find_matching_component(pet, 10, 7.85) == \
        (None, 'no_component_with_suv')
    assert find_matching_component(pet, 20, 8.0) == \
        (None, 'no_component_at_slice')


def test_long_components_are_rejected_below_suv_5():
    pet = np.ones((16, 16, 80), np.float32)
    pet[6:10, 6:10, 5:70] = 4.0      # 65 slices long, SUV 4: organ-like
    assert find_matching_component(pet, 30, 4.0) == (None, 'long_component')
    pet[6:10, 6:10, 5:70] = 6.0      # as long but SUV 6: kept
    mask, reason = find_matching_component(pet, 30, 6.0)
    assert reason is None and mask.sum() == 4 * 4 * 65
