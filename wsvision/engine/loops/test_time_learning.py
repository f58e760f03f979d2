"""Test-time learning (TTL): adapt a mean-teacher detector on one pass over
the unlabelled test stream, evaluating before and after (PS-TTL,
methods.md section 3).

Used as the test loop of a config::

    test_cfg = dict(type='TestTimeLearningLoop',
                    stream_dataloader=..., shot_dataloader=...,
                    optim_wrapper=dict(optimizer=dict(type='SGD', lr=1e-3)),
                    momentum=0.9996)

and run with ``tools/test.py CONFIG CHECKPOINT`` or ``Runner.test()``. The
model must provide ``loss`` over mixed batches (K-shot samples flagged with
metainfo ``labelled=True``), ``update_teacher(momentum)``,
``add_prototype_features(inputs, data_samples)`` and ``reset_prototypes()``
(``PSTTL`` does).

DDP: the stream and K-shot loaders use distributed samplers that give every
rank the same number of batches, the student's gradients go through the DDP
wrapper's ``train_step``, and the teacher and prototype queues synchronise
themselves, so all ranks end with the same teacher.
"""
import itertools
from typing import Dict, Optional, Union

import torch
from mmengine.dist import all_gather_object
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import TestLoop
from torch.utils.data import DataLoader

from ...models.teacher_student import PseudoLabelQualityLog
from ...registry import LOOPS
from ..hooks import state_dict_digest


def _cycle(dataloader):
    """Iterate a finite loader forever (the K-shot set is tiny)."""
    while True:
        yield from dataloader


@LOOPS.register_module()
class TestTimeLearningLoop(TestLoop):
    """Evaluate, adapt on the test stream once, evaluate again.

    Args:
        runner, dataloader, evaluator, fp16: as for ``TestLoop``; the
            ``dataloader`` is the evaluation set (plain test pipeline).
        stream_dataloader: the same test images through ``WeakStrongViews``
            (their annotations are used only for pseudo-label quality logs).
        shot_dataloader: the K-shot training set, labelled, weak view as
            ``inputs``; it initialises the prototypes and one batch of it
            joins every TTL iteration.
        optim_wrapper: optimiser config for the student.
        momentum: EMA keep rate of the teacher, updated every iteration.
        evaluate_before: also evaluate before adapting; those metrics are
            returned with the prefix ``before_ttl/``.
        max_iters: stop the pass early (for quick runs); None = whole stream.
        log_interval: iterations between log lines.
    """

    def __init__(self, runner, dataloader: Union[DataLoader, Dict],
                 evaluator, stream_dataloader: Union[DataLoader, Dict],
                 shot_dataloader: Union[DataLoader, Dict],
                 optim_wrapper: dict, momentum: float = 0.9996,
                 evaluate_before: bool = True,
                 max_iters: Optional[int] = None, log_interval: int = 10,
                 fp16: bool = False):
        super().__init__(runner, dataloader, evaluator, fp16)
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f'TestTimeLearningLoop: momentum must lie in '
                             f'[0, 1], got {momentum}')
        self.stream_dataloader = self._build_loader(stream_dataloader)
        self.shot_dataloader = self._build_loader(shot_dataloader)
        self.optim_wrapper_cfg = optim_wrapper
        self.momentum, self.evaluate_before = momentum, evaluate_before
        self.max_iters, self.log_interval = max_iters, log_interval
        self.pl_quality = PseudoLabelQualityLog()

    def _build_loader(self, loader):
        if isinstance(loader, dict):
            return self.runner.build_dataloader(loader, seed=self.runner.seed)
        return loader

    @property
    def model(self):
        model = self.runner.model
        return model.module if is_model_wrapper(model) else model

    def evaluate(self) -> Dict[str, float]:
        """One evaluation pass over ``dataloader`` (``TestLoop.run_iter``)."""
        self.runner.model.eval()
        for idx, data_batch in enumerate(self.dataloader):
            self.run_iter(idx, data_batch)
        return self.evaluator.evaluate(len(self.dataloader.dataset))

    def init_prototypes(self) -> None:
        """Prototypes from the K-shot ground truth on the weak view."""
        model = self.model
        model.eval()
        for data_batch in self.shot_dataloader:
            data = model.data_preprocessor(data_batch, training=False)
            model.add_prototype_features(data['inputs'], data['data_samples'])
        model.reset_prototypes()

    def adapt(self) -> None:
        """One pass over the test stream, one K-shot batch per iteration."""
        optim_wrapper = self.runner.build_optim_wrapper(self.optim_wrapper_cfg)
        self.init_prototypes()
        shots = _cycle(self.shot_dataloader)
        stream = self.stream_dataloader
        if self.max_iters is not None:
            stream = itertools.islice(stream, self.max_iters)
        self.runner.model.train()
        for idx, stream_batch in enumerate(stream):
            shot_batch = next(shots)
            for sample in shot_batch['data_samples']:
                sample.set_metainfo(dict(labelled=True))
            batch = dict(
                inputs=list(stream_batch['inputs']) + list(shot_batch['inputs']),
                data_samples=(list(stream_batch['data_samples'])
                              + list(shot_batch['data_samples'])))
            log_vars = self.runner.model.train_step(batch, optim_wrapper)
            self.model.update_teacher(self.momentum)
            record = self.pl_quality.collect(self.runner.model, idx)
            if idx % self.log_interval == 0:
                losses = ', '.join(f'{k}: {float(torch.as_tensor(v).detach()):.4f}'
                                   for k, v in log_vars.items())
                quality = '' if record is None else (
                    f', pl_precision: {record["pl_precision"]:.3f}, '
                    f'pl_recall: {record["pl_recall"]:.3f}')
                print_log(f'TTL iter {idx}: {losses}{quality}',
                          logger='current')
        self.pl_quality.dump(self.runner.work_dir, 'ttl_pl_quality')
        self.check_ranks_agree()

    def check_ranks_agree(self) -> None:
        """Raise if the teacher, prototypes or queues differ across ranks
        (the state that evaluation and the next iteration depend on)."""
        # 1-d views: state_dict_digest cannot view 0-d integer buffers.
        state = {k: v.reshape(-1) for k, v in self.model.state_dict().items()
                 if not k.startswith('mean_teacher.student.')}
        digests = all_gather_object(state_dict_digest(state))
        if len(set(digests)) != 1:
            raise RuntimeError(f'TTL state differs across ranks: {digests}')
        print_log(f'TTL teacher/prototype digest (all {len(digests)} ranks): '
                  f'{digests[0]}', logger='current')

    def run(self) -> dict:
        self.runner.call_hook('before_test')
        self.runner.call_hook('before_test_epoch')
        metrics = {}
        if self.evaluate_before:
            before = self.evaluate()
            metrics.update({f'before_ttl/{k}': v for k, v in before.items()})
        self.adapt()
        metrics.update(self.evaluate())
        summary = self.pl_quality.summary()
        if summary.get('unc_matched'):
            # How often the teacher's class / the soft label's most likely
            # class is right on uncertain boxes that cover an object.
            for source in ('teacher', 'soft'):
                summary[f'unc_{source}_acc'] = \
                    summary[f'unc_{source}_correct'] / summary['unc_matched']
        # Precision / recall are undefined (NaN) without pseudo-labels / GT.
        metrics.update({f'ttl/{k}': v for k, v in summary.items() if v == v})
        self.runner.call_hook('after_test_epoch', metrics=metrics)
        self.runner.call_hook('after_test')
        return metrics
