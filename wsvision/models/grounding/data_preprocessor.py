"""Batch PET/CT grounding samples onto the model's device."""
import torch
from mmengine.model import BaseDataPreprocessor

from ...registry import MODELS


@MODELS.register_module()
class GroundingDataPreprocessor(BaseDataPreprocessor):
    """Stack ``inputs`` into (B, 2, X, Y, Z) and move everything to the device.

    Samples of one batch must share a shape: train on whole volumes of one
    grid, or on fixed-size crops; evaluate with batch size 1 otherwise.
    """

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        inputs = data['inputs']
        if isinstance(inputs, (list, tuple)):
            shapes = {tuple(x.shape) for x in inputs}
            if len(shapes) > 1:
                raise ValueError(f'samples of one batch have different shapes '
                                 f'{sorted(shapes)}; use crop_size for '
                                 'training or batch_size=1')
            inputs = torch.stack(list(inputs))
        return dict(inputs=inputs.float(),
                    data_samples=data.get('data_samples'))
