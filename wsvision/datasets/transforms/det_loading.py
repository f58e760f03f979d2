"""``LoadDetAnnotations``: instance records -> box, label and mask arrays.

After it, ``results`` holds the per-instance arrays named in
``results['instance_fields']`` (all of length N, kept aligned by every
transform that drops instances); ``bbox_fields`` and ``mask_fields`` say which
of them geometric transforms must move with the image.
"""
import numpy as np
from pycocotools import mask as mask_utils

from ...registry import TRANSFORMS
from ..det_dataset import clip_boxes_to_image
from ..io import DataError


def decode_segmentation(segmentation, height: int, width: int,
                        where: str) -> np.ndarray:
    """A COCO ``segmentation`` -> (H, W) uint8 mask.

    Accepts the three COCO forms: a list of polygons, an uncompressed RLE
    (``counts`` is a list) and a compressed RLE (``counts`` is a string).
    """
    try:
        if isinstance(segmentation, list):
            rle = mask_utils.merge(
                mask_utils.frPyObjects(segmentation, height, width))
        elif isinstance(segmentation, dict) and isinstance(
                segmentation.get('counts'), list):
            rle = mask_utils.frPyObjects(segmentation, height, width)
        elif isinstance(segmentation, dict):
            rle = segmentation
        else:
            raise TypeError(f'unsupported type {type(segmentation).__name__}')
        mask = mask_utils.decode(rle)
    except (TypeError, ValueError, KeyError, IndexError) as e:
        raise DataError(f'{where}: malformed segmentation ({e}); expected COCO '
                        'polygons or RLE') from None
    if mask.shape != (height, width):
        raise DataError(f'{where}: segmentation has size {mask.shape}, but the '
                        f'image is {(height, width)}')
    return mask


@TRANSFORMS.register_module()
class LoadDetAnnotations:
    """``results['instances']`` -> arrays.

    Adds ``gt_bboxes`` (N, 4) float32 xyxy, ``gt_bboxes_labels`` (N,) int64,
    ``gt_ignore_flags`` (N,) bool, ``gt_person_ids`` (N,) int64 when the
    instances carry ``person_id`` and, with ``with_mask``, ``gt_masks``
    (N, H, W) uint8.

    When the image is already loaded, boxes are checked against its size (see
    ``clip_boxes_to_image``), so loaders whose annotation files do not record
    image sizes (PRW, CUHK-SYSU) get the same check as COCO.

    Args:
        with_mask: also decode each instance's ``mask`` (COCO polygons/RLE).
    """

    def __init__(self, with_mask: bool = False):
        self.with_mask = with_mask

    def __call__(self, results: dict) -> dict:
        where = results.get('img_path', 'sample')
        if 'instances' not in results:
            raise ValueError(f'{where}: no "instances" to load; the dataset '
                             'must provide instance records')
        instances = results['instances']
        box_ids = [inst.get('ann_id', f'#{i}') for i, inst in enumerate(instances)]
        boxes = np.array([inst['bbox'] for inst in instances],
                         dtype=np.float32).reshape(-1, 4)
        if 'img' in results:
            boxes = clip_boxes_to_image(boxes, *results['img'].shape[:2],
                                        where, box_ids)
        results['gt_bboxes'] = boxes
        results['gt_bboxes_labels'] = np.array(
            [inst['bbox_label'] for inst in instances], dtype=np.int64)
        results['gt_ignore_flags'] = np.array(
            [bool(inst['ignore_flag']) for inst in instances], dtype=bool)
        fields = ['gt_bboxes', 'gt_bboxes_labels', 'gt_ignore_flags']

        with_person_id = ['person_id' in inst for inst in instances]
        if any(with_person_id):
            if not all(with_person_id):
                raise DataError(f'{where}: annotation '
                                f'{box_ids[with_person_id.index(False)]} has '
                                'no person_id while others in the image do')
            results['gt_person_ids'] = np.array(
                [inst['person_id'] for inst in instances], dtype=np.int64)
            fields.append('gt_person_ids')

        results['mask_fields'] = []
        if self.with_mask:
            results['gt_masks'] = self._load_masks(results, instances, box_ids,
                                                   where)
            fields.append('gt_masks')
            results['mask_fields'] = ['gt_masks']
        results['bbox_fields'] = ['gt_bboxes']
        results['instance_fields'] = fields
        return results

    @staticmethod
    def _load_masks(results, instances, box_ids, where) -> np.ndarray:
        """(N, H, W) uint8 masks at the size of the image (or of the sizes
        recorded by the dataset when the image is not loaded yet)."""
        if 'img' in results:
            height, width = results['img'].shape[:2]
        elif 'height' in results and 'width' in results:
            height, width = results['height'], results['width']
        else:
            raise ValueError(f'{where}: image size unknown; load the image '
                             'before LoadDetAnnotations(with_mask=True)')
        masks = []
        for inst, box_id in zip(instances, box_ids):
            if 'mask' not in inst:
                raise DataError(f'{where}: annotation {box_id} has no '
                                'segmentation, but with_mask=True')
            masks.append(decode_segmentation(
                inst['mask'], height, width, f'{where}: annotation {box_id}'))
        if not masks:
            return np.zeros((0, height, width), dtype=np.uint8)
        return np.stack(masks)
