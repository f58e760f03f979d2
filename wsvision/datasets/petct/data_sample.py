"""``GroundingDataSample``: one (PET/CT volume, sentence) pair.

Data fields:
- ``gt_mask``: (1, X, Y, Z) uint8, the referenced lesion (1) or not (0).
- ``pred_mask``: (1, X, Y, Z) uint8, the predicted lesion.

Metainfo: ``exam_id``, ``tracer``, ``sentence_index``, ``sentence`` (as in
the report), ``text`` (the leak-guarded sentence the model reads),
``spacing`` (mm) and ``label_source`` ('weak' or 'true').
"""
import torch
from mmengine.structures import BaseDataElement


class GroundingDataSample(BaseDataElement):

    @property
    def gt_mask(self) -> torch.Tensor:
        return self._gt_mask

    @gt_mask.setter
    def gt_mask(self, value: torch.Tensor):
        self.set_field(value, '_gt_mask', dtype=torch.Tensor)

    @property
    def pred_mask(self) -> torch.Tensor:
        return self._pred_mask

    @pred_mask.setter
    def pred_mask(self, value: torch.Tensor):
        self.set_field(value, '_pred_mask', dtype=torch.Tensor)
