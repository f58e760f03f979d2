"""The one ``forward`` every wsvision task model shares."""
from mmengine.model import BaseModel


class TaskModel(BaseModel):
    """An MMEngine model whose ``forward`` dispatches on ``mode``.

    ``mode='loss'`` -> ``self.loss`` (dict of loss tensors), ``'predict'`` ->
    ``self.predict`` (data samples with predictions), ``'tensor'`` ->
    ``self.tensor_forward`` (raw network outputs). Subclasses implement the
    three methods.
    """

    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.tensor_forward(inputs, data_samples)
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")
