"""NIfTI volumes in and out, with errors that name the file.

Every volume is returned in RAS+ orientation as a (X, Y, Z) array: X runs
towards the patient's right, Y anterior, Z superior (see ``slices.py`` for how
report slice numbers map onto Z).
"""
import os
from typing import Optional, Sequence, Tuple

import numpy as np

from ..io import DataError, check_file


def save_volume(path: str, volume: np.ndarray,
                spacing: Sequence[float]) -> None:
    """Write a (X, Y, Z) array with voxel size ``spacing`` (mm) as RAS+."""
    import nibabel as nib
    if volume.ndim != 3:
        raise ValueError(f'volume for {path} must be 3-D (X, Y, Z), got shape '
                         f'{volume.shape}')
    if len(spacing) != 3 or min(spacing) <= 0:
        raise ValueError(f'spacing for {path} must be 3 positive numbers, got '
                         f'{tuple(spacing)}')
    affine = np.diag([*map(float, spacing), 1.0])
    image = nib.Nifti1Image(volume, affine)
    image.header.set_xyzt_units('mm')
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    nib.save(image, path)


def load_volume(path: str, what: str = 'volume', dtype=np.float32
                ) -> Tuple[np.ndarray, Tuple[float, float, float]]:
    """Read a 3-D NIfTI as a RAS+ (X, Y, Z) array and its voxel size in mm.

    Raises:
        DataError: the file is missing or unreadable, is not 3-D (a trailing
            axis of length 1 is accepted), or holds NaN or infinite values.
    """
    import nibabel as nib
    check_file(path, what)
    try:
        image = nib.as_closest_canonical(nib.load(path))
        volume = np.asarray(image.dataobj)
    except Exception as e:  # nibabel raises many types for a damaged file
        raise DataError(f'corrupt or unreadable {what} {path}: {e}') from None
    if volume.ndim == 4 and volume.shape[3] == 1:
        volume = volume[..., 0]
    if volume.ndim != 3:
        raise DataError(f'{what} {path} has shape {volume.shape}; expected a '
                        '3-D volume (X, Y, Z)')
    volume = volume.astype(dtype, copy=False)
    if np.issubdtype(volume.dtype, np.floating):
        bad = int(np.count_nonzero(~np.isfinite(volume)))
        if bad:
            raise DataError(f'{what} {path} holds {bad} NaN or infinite '
                            'voxels')
    spacing = tuple(float(s) for s in image.header.get_zooms()[:3])
    return volume, spacing


def check_same_grid(volumes: dict,
                    expected_shape: Optional[tuple] = None) -> None:
    """Refuse volumes of one exam that do not share one voxel grid.

    Args:
        volumes: ``{path: array}`` of volumes that must align voxel for voxel.
        expected_shape: the shape they must all have, when known.
    """
    shapes = {path: tuple(v.shape) for path, v in volumes.items()}
    reference = expected_shape or next(iter(shapes.values()))
    for path, shape in shapes.items():
        if shape != tuple(reference):
            listing = ', '.join(f'{p}: {s}' for p, s in shapes.items())
            raise DataError(f'volumes do not share one voxel grid ({listing}); '
                            f'expected {tuple(reference)}')
