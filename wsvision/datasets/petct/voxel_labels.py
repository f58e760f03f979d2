"""From a (slice, SUV) pair to a voxel label (pipeline steps 6 and 7).

Step 6 finds the connected component that the sentence describes; step 7
grows the final label from its maximum by iterative thresholding (Jentzen et
al.'s iterative thresholding method, ITM).
"""
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np
from scipy import ndimage

#: 6-connectivity (faces only), as the paper's component search uses.
SIX_CONNECTED = ndimage.generate_binary_structure(3, 1)


def match_threshold(suv: float) -> float:
    """Step 6 threshold: (0.617 / SUV + 0.316) * SUV, in SUV units."""
    return (0.617 / suv + 0.316) * suv


def itm_threshold_ratio(volume_ml: float, background: float,
                        suv_max: float) -> float:
    """Step 7: T / SUVmax = 0.078 / V(ml) + 0.617 * bg / SUVmax + 0.316."""
    return 0.078 / volume_ml + 0.617 * background / suv_max + 0.316


@dataclass
class VoxelLabel:
    """A grown label, or why the sentence produced none."""
    mask: Optional[np.ndarray] = None   # (X, Y, Z) bool
    drop_reason: Optional[str] = None
    threshold_ratio: Optional[float] = None
    iterations: int = 0
    suv_max: Optional[float] = None
    background: Optional[float] = None

    @property
    def kept(self) -> bool:
        return self.drop_reason is None


def find_matching_component(pet: np.ndarray, slice_index: int, suv: float,
                            suv_tolerance: float = 0.1,
                            max_slices: int = 50, long_suv: float = 5.0
                            ) -> Tuple[Optional[np.ndarray], Optional[str]]:
    """Step 6: the component at slice ``slice_index`` whose SUVmax is ``suv``.

    Args:
        pet: (X, Y, Z) SUV volume; Z is the slice axis.
        slice_index: array index along Z of the reported slice.
        suv: the reported SUV.
        suv_tolerance: allowed |SUVmax - SUV|.
        max_slices, long_suv: components longer than ``max_slices`` slices
            are rejected when ``suv < long_suv`` (organs and blood pool are
            long and moderately hot; true lesions that long are very hot).

    Returns:
        ``(mask, None)`` with the (X, Y, Z) bool component, or
        ``(None, reason)``.
    """
    labels, _ = ndimage.label(pet >= match_threshold(suv),
                              structure=SIX_CONNECTED)
    ids = np.unique(labels[:, :, slice_index])
    ids = ids[ids > 0]
    if ids.size == 0:
        return None, 'no_component_at_slice'
    maxima = ndimage.maximum(pet, labels, ids)
    boxes = ndimage.find_objects(labels)
    best, best_error, rejected_long = None, None, False
    for label_id, suv_max in zip(ids, np.atleast_1d(maxima)):
        error = abs(float(suv_max) - suv)
        if error > suv_tolerance:
            continue
        z_box = boxes[label_id - 1][2]
        if z_box.stop - z_box.start > max_slices and suv < long_suv:
            rejected_long = True
            continue
        if best_error is None or error < best_error:
            best, best_error = label_id, error
    if best is None:
        return None, ('long_component' if rejected_long
                      else 'no_component_with_suv')
    return labels == best, None


def _component_containing(binary: np.ndarray,
                          seed: Tuple[int, ...]) -> np.ndarray:
    labels, _ = ndimage.label(binary, structure=SIX_CONNECTED)
    return labels == labels[seed]


def background_uptake(pet: np.ndarray, mask: np.ndarray, gap: int = 1,
                      width: int = 2) -> float:
    """Mean SUV in a shell ``width`` voxels thick, ``gap`` voxels outside
    ``mask``."""
    inner = ndimage.binary_dilation(mask, SIX_CONNECTED, iterations=gap)
    outer = ndimage.binary_dilation(inner, SIX_CONNECTED, iterations=width)
    shell = outer & ~inner
    return float(pet[shell].mean()) if shell.any() else 0.0


def iterative_threshold(pet: np.ndarray, component: np.ndarray,
                        spacing: Sequence[float], tolerance: float = 0.01,
                        max_ratio: float = 0.9, max_iterations: int = 100
                        ) -> VoxelLabel:
    """Step 7: grow the label from the component's maximum (ITM).

    Starting from the component's volume, repeat: T/SUVmax from the formula,
    take the 6-connected region >= T around the maximum, re-measure its
    volume; stop when T changes by less than ``tolerance`` (relative).

    Args:
        pet: (X, Y, Z) SUV volume.
        component: (X, Y, Z) bool, the matched component of step 6.
        spacing: voxel size in mm (volumes are in ml).
    """
    voxel_ml = float(np.prod(spacing)) / 1000.0
    seed = np.unravel_index(np.argmax(np.where(component, pet, -np.inf)),
                            pet.shape)
    suv_max = float(pet[seed])
    background = background_uptake(pet, component)
    volume_ml = component.sum() * voxel_ml
    ratio = None
    for iteration in range(1, max_iterations + 1):
        new_ratio = itm_threshold_ratio(volume_ml, background, suv_max)
        if new_ratio > max_ratio:
            return VoxelLabel(drop_reason='itm_ratio_above_max',
                              threshold_ratio=new_ratio, iterations=iteration,
                              suv_max=suv_max, background=background)
        region = _component_containing(pet >= new_ratio * suv_max, seed)
        volume_ml = region.sum() * voxel_ml
        if ratio is not None and abs(new_ratio - ratio) < tolerance * ratio:
            return VoxelLabel(region, None, new_ratio, iteration, suv_max,
                              background)
        ratio = new_ratio
    return VoxelLabel(drop_reason='itm_not_converged', threshold_ratio=ratio,
                      iterations=max_iterations, suv_max=suv_max,
                      background=background)
