"""Loading transforms: file paths in ``results`` -> arrays in ``results``.

Transforms are plain callables on a results dict (the OpenMMLab 2.0 data
pipeline grammar). Label maps listed in ``results['seg_fields']`` follow every
geometric transform of the image.
"""
from ...registry import TRANSFORMS
from ..io import read_image, read_label_map


@TRANSFORMS.register_module()
class LoadImageFromFile:
    """``img_path`` -> ``img`` (H, W, 3) uint8 RGB, plus ``img_shape``/``ori_shape``."""

    def __call__(self, results: dict) -> dict:
        img = read_image(results['img_path'])
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results


@TRANSFORMS.register_module()
class LoadSegAnnotations:
    """Load the dense mask (``seg_map_path``) and/or weak mask (``weak_seg_path``).

    Adds ``gt_seg_map`` / ``gt_weak_seg`` as uint8 (H, W) and registers them in
    ``seg_fields``. A label map whose size differs from the image is an error
    naming both files.

    Label files are PNGs or SBD-style ``.mat`` files (``read_label_map``).
    A dataset whose files encode labels differently from wsvision puts a
    (256,) uint8 lookup table per field in ``results['label_luts']``
    (e.g. ``{'gt_seg_map': labelIds -> trainIds}`` for Cityscapes, or a
    scribble set's unlabelled value -> ``UNLABELLED``); it is applied on read.
    """

    def __call__(self, results: dict) -> dict:
        results.setdefault('seg_fields', [])
        for path_key, field in (('seg_map_path', 'gt_seg_map'),
                                ('weak_seg_path', 'gt_weak_seg')):
            path = results.get(path_key)
            if path is None:
                continue
            label = read_label_map(path)
            lut = results.get('label_luts', {}).get(field)
            if lut is not None:
                label = lut[label]
            if 'img' in results and label.shape != results['img'].shape[:2]:
                raise ValueError(
                    f'label map {path} has size {label.shape} but image '
                    f'{results["img_path"]} has size {results["img"].shape[:2]}')
            results[field] = label
            results['seg_fields'].append(field)
        return results
