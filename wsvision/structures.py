"""Typed per-sample containers passed between datasets, models and metrics.

They follow MMEngine's data-element API (``metainfo`` plus data fields), like
mmdet's ``DetDataSample`` and mmseg's ``SegDataSample``:

- ``SegDataSample``: ``gt_sem_seg`` / ``pred_sem_seg`` are ``PixelData`` with a
  ``data`` field of shape (1, H, W); ``seg_logits`` holds (K, H, W) scores.
  Weak labels travel as ``gt_weak_seg`` (1, H, W) and ``gt_tags`` (K,).
- ``DetDataSample``: ``gt_instances`` / ``pred_instances`` are ``InstanceData``
  with ``bboxes`` (N, 4, xyxy pixels), ``labels`` (N,) and, for predictions,
  ``scores`` (N,). Optional ``masks`` (N, H, W) bool.
"""
from mmengine.structures import BaseDataElement, InstanceData, PixelData

__all__ = ['SegDataSample', 'DetDataSample', 'InstanceData', 'PixelData',
           'UNLABELLED', 'IGNORE_INDEX']


class SegDataSample(BaseDataElement):
    """One image's segmentation ground truth, weak labels and prediction."""

    @property
    def gt_sem_seg(self) -> PixelData:
        return self._gt_sem_seg

    @gt_sem_seg.setter
    def gt_sem_seg(self, value: PixelData):
        self.set_field(value, '_gt_sem_seg', dtype=PixelData)

    @property
    def gt_weak_seg(self) -> PixelData:
        return self._gt_weak_seg

    @gt_weak_seg.setter
    def gt_weak_seg(self, value: PixelData):
        self.set_field(value, '_gt_weak_seg', dtype=PixelData)

    @property
    def pred_sem_seg(self) -> PixelData:
        return self._pred_sem_seg

    @pred_sem_seg.setter
    def pred_sem_seg(self, value: PixelData):
        self.set_field(value, '_pred_sem_seg', dtype=PixelData)

    @property
    def seg_logits(self) -> PixelData:
        return self._seg_logits

    @seg_logits.setter
    def seg_logits(self, value: PixelData):
        self.set_field(value, '_seg_logits', dtype=PixelData)


class DetDataSample(BaseDataElement):
    """One image's detection ground truth and prediction."""

    @property
    def gt_instances(self) -> InstanceData:
        return self._gt_instances

    @gt_instances.setter
    def gt_instances(self, value: InstanceData):
        self.set_field(value, '_gt_instances', dtype=InstanceData)

    @property
    def pred_instances(self) -> InstanceData:
        return self._pred_instances

    @pred_instances.setter
    def pred_instances(self, value: InstanceData):
        self.set_field(value, '_pred_instances', dtype=InstanceData)

#: Label value for pixels that carry no weak label (sparse annotations).
UNLABELLED = 254
#: Label value for padding and "do not care" pixels (never a supervision signal).
IGNORE_INDEX = 255
