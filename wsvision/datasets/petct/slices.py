"""Report slice numbers versus array indices.

Volumes are held in RAS+ orientation (``nibabel.as_closest_canonical``), so the
third array axis runs from inferior (index 0) to superior. Reports number axial
slices the way the reading workstation showed them, which is a property of the
data set, recorded in ``dataset.json`` as ``slice_convention``:

- ``superior_first``: slice 1 is the most superior slice (the usual head-to-
  feet series order): ``index = num_slices - slice``.
- ``inferior_first``: slice 1 is the most inferior slice:
  ``index = slice - 1``.
"""

SLICE_CONVENTIONS = ('superior_first', 'inferior_first')


def check_convention(convention: str) -> str:
    if convention not in SLICE_CONVENTIONS:
        raise ValueError(f'unknown slice convention {convention!r}; expected '
                         f'one of {SLICE_CONVENTIONS}')
    return convention


def slice_to_index(slice_number: int, num_slices: int, convention: str) -> int:
    """Array index (along the superior axis) of 1-based report slice
    ``slice_number``."""
    check_convention(convention)
    if not 1 <= slice_number <= num_slices:
        raise ValueError(f'slice {slice_number} is outside 1..{num_slices}')
    if convention == 'superior_first':
        return num_slices - slice_number
    return slice_number - 1


def index_to_slice(index: int, num_slices: int, convention: str) -> int:
    """1-based report slice number of array index ``index``."""
    check_convention(convention)
    if not 0 <= index < num_slices:
        raise ValueError(f'index {index} is outside 0..{num_slices - 1}')
    if convention == 'superior_first':
        return num_slices - index
    return index + 1
