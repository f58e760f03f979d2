"""The one ``forward`` every wsvision task model shares."""
from mmengine.model import BaseModel


class TaskModel(BaseModel):
    """An MMEngine model whose ``forward`` dispatches on ``mode``.

    ``mode='loss'`` -> ``self.loss`` (dict of loss tensors), ``'predict'`` ->
    ``self.predict`` (data samples with predictions), ``'tensor'`` ->
    ``self.tensor_forward`` (raw network outputs). Subclasses implement the
    three methods.

    Checkpoints: ``checkpoint_view(state_dict)`` is the state dict a
    checkpoint loads as (identity here; a teacher-student model maps a
    plain detector's weights onto both networks). A zoo (inference) file may
    leave out the state named by ``omittable_state_prefixes()``: what only
    training reads (``training_state_prefixes``, e.g. memory banks) and
    frozen pretrained weights that the model loads from their own source
    when it is built (``pretrained_state_prefixes``, e.g. a text encoder).
    """

    training_state_prefixes: tuple = ()
    pretrained_state_prefixes: tuple = ()

    @classmethod
    def omittable_state_prefixes(cls) -> tuple:
        return tuple(cls.training_state_prefixes) + tuple(
            cls.pretrained_state_prefixes)

    def checkpoint_view(self, state_dict: dict) -> dict:
        return state_dict

    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.tensor_forward(inputs, data_samples)
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")
