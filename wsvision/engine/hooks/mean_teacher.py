"""Drive the EMA update of a mean teacher from the training loop."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from ...registry import HOOKS


@HOOKS.register_module()
class MeanTeacherHook(Hook):
    """Call ``model.update_teacher(momentum)`` (the model unwrapped from its
    DDP wrapper) every ``interval`` iterations from ``start_iter`` on, or,
    with ``by_epoch=True``, at the end of every ``interval``-th epoch.

    ``momentum`` is the keep rate: teacher = m * teacher + (1 - m) * student.
    """

    priority = 'NORMAL'

    def __init__(self, momentum: float = 0.999, interval: int = 1,
                 by_epoch: bool = False, start_iter: int = 0):
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f'momentum must lie in [0, 1], got {momentum}')
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        self.momentum, self.interval = momentum, interval
        self.by_epoch, self.start_iter = by_epoch, start_iter

    @staticmethod
    def _model(runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not callable(getattr(model, 'update_teacher', None)):
            raise TypeError(f'MeanTeacherHook: {type(model).__name__} has no '
                            'update_teacher(momentum) method')
        return model

    def before_train(self, runner) -> None:
        self._model(runner)

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if self.by_epoch:
            return
        done = runner.iter + 1  # runner.iter is incremented after the hooks
        if done > self.start_iter and (done - self.start_iter) % self.interval == 0:
            self._model(runner).update_teacher(self.momentum)

    def after_train_epoch(self, runner) -> None:
        if self.by_epoch and (runner.epoch + 1) % self.interval == 0:
            self._model(runner).update_teacher(self.momentum)
