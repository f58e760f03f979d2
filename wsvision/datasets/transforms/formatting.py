"""Pack a results dict into ``inputs`` (tensor) and a typed data sample."""
import numpy as np
import torch

from ...registry import TRANSFORMS
from ...structures import DetDataSample, InstanceData, PixelData, SegDataSample

SEG_META_KEYS = ('img_path', 'seg_map_path', 'weak_seg_path', 'ori_shape',
                 'img_shape', 'flip')
DET_META_KEYS = ('img_id', 'img_path', 'ori_shape', 'img_shape',
                 'scale_factor', 'flip')


def image_to_tensor(img: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (3, H, W) uint8 tensor."""
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))


@TRANSFORMS.register_module()
class PackSegInputs:
    """Return ``dict(inputs=(3, H, W) uint8, data_samples=SegDataSample)``.

    ``gt_seg_map`` -> ``gt_sem_seg`` and ``gt_weak_seg`` -> ``gt_weak_seg``
    (both ``PixelData`` of (1, H, W) int64); ``gt_tags`` (K,) float if present.
    """

    def __init__(self, meta_keys=SEG_META_KEYS):
        self.meta_keys = meta_keys

    def __call__(self, results: dict) -> dict:
        sample = SegDataSample()
        for field, name in (('gt_seg_map', 'gt_sem_seg'),
                            ('gt_weak_seg', 'gt_weak_seg')):
            if field in results:
                label = torch.from_numpy(
                    np.ascontiguousarray(results[field])).long()[None]
                setattr(sample, name, PixelData(data=label))
        if 'gt_tags' in results:
            sample.gt_tags = torch.as_tensor(results['gt_tags'],
                                             dtype=torch.float32)
        sample.set_metainfo({k: results[k] for k in self.meta_keys
                             if k in results})
        return dict(inputs=image_to_tensor(results['img']), data_samples=sample)


@TRANSFORMS.register_module()
class PackDetInputs:
    """Return ``dict(inputs=(3, H, W) uint8, data_samples=DetDataSample)``.

    Instances flagged ``gt_ignore_flags`` go to ``ignored_instances`` and the
    rest to ``gt_instances``, each an ``InstanceData`` with ``bboxes``
    (N, 4) float32 xyxy, ``labels`` (N,) int64 and, when loaded, ``masks``
    (N, H, W) bool and ``person_ids`` (N,) int64. Without loaded boxes (plain
    inference) neither is set.

    Metainfo: ``meta_keys`` found in ``results``; ``scale_factor`` (w_scale,
    h_scale relative to the original image) defaults to (1.0, 1.0) and
    ``flip`` to False when no transform set them.
    """

    #: results key -> InstanceData field.
    INSTANCE_FIELDS = (('gt_bboxes', 'bboxes', torch.float32),
                       ('gt_bboxes_labels', 'labels', torch.int64),
                       ('gt_masks', 'masks', torch.bool),
                       ('gt_person_ids', 'person_ids', torch.int64))

    def __init__(self, meta_keys=DET_META_KEYS):
        self.meta_keys = meta_keys

    def __call__(self, results: dict) -> dict:
        sample = DetDataSample()
        if 'gt_bboxes' in results:
            ignored = results.get('gt_ignore_flags',
                                  np.zeros(len(results['gt_bboxes']), bool))
            sample.gt_instances = self._instances(results, ~ignored)
            sample.ignored_instances = self._instances(results, ignored)
        meta = dict(scale_factor=(1.0, 1.0), flip=False)
        meta.update((k, results[k]) for k in self.meta_keys if k in results)
        sample.set_metainfo({k: meta[k] for k in self.meta_keys if k in meta})
        return dict(inputs=image_to_tensor(results['img']), data_samples=sample)

    def _instances(self, results: dict, keep: np.ndarray) -> InstanceData:
        instances = InstanceData()
        for key, field, dtype in self.INSTANCE_FIELDS:
            if key in results:
                values = np.ascontiguousarray(results[key][keep])
                setattr(instances, field, torch.from_numpy(values).to(dtype))
        return instances
