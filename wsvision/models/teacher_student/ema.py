"""Mean teacher: an exponential-moving-average (EMA) copy of a student.

``ema_update_`` is the arithmetic; ``MeanTeacher`` holds the pair and keeps the
teacher frozen and in eval mode. A method model owns a ``MeanTeacher`` (or
subclasses ``MeanTeacherModel``, which also loads a plain student checkpoint
into both networks) and ``MeanTeacherHook`` drives the updates.

DDP: the student's parameters are identical on every rank after each
optimiser step, so the EMA of them stays identical too. Buffers are not
(each rank's BatchNorm statistics follow its own batches), so after every
update the teacher's floating buffers are averaged over the ranks and its
integer buffers broadcast from rank 0: teachers never drift apart.
"""
import copy
from typing import Optional

import torch
import torch.nn as nn
from mmengine.dist import all_reduce, broadcast, get_world_size

from ..base_model import TaskModel


@torch.no_grad()
def ema_update_(teacher: nn.Module, student: nn.Module,
                momentum: float) -> None:
    """In place: ``teacher = momentum * teacher + (1 - momentum) * student``
    for every floating parameter and floating buffer; integer buffers (e.g.
    ``num_batches_tracked``) are copied from the student.

    Both modules must have the same structure (names and shapes).
    """
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f'EMA momentum must lie in [0, 1], got {momentum}')
    student_state = dict(student.named_parameters())
    student_state.update(student.named_buffers())
    teacher_state = dict(teacher.named_parameters())
    teacher_state.update(teacher.named_buffers())
    if student_state.keys() != teacher_state.keys():
        missing = sorted(student_state.keys() ^ teacher_state.keys())
        raise ValueError(f'teacher and student differ in tensors {missing[:5]}')
    for name, teacher_tensor in teacher_state.items():
        student_tensor = student_state[name].detach()
        if teacher_tensor.shape != student_tensor.shape:
            raise ValueError(f'{name}: teacher shape {tuple(teacher_tensor.shape)}'
                             f' != student shape {tuple(student_tensor.shape)}')
        if teacher_tensor.is_floating_point():
            teacher_tensor.mul_(momentum).add_(student_tensor.to(teacher_tensor),
                                               alpha=1.0 - momentum)
        else:
            teacher_tensor.copy_(student_tensor)


@torch.no_grad()
def sync_buffers_(module: nn.Module) -> None:
    """Average floating buffers over the ranks, broadcast integer ones from
    rank 0 (no-op in a single process)."""
    if get_world_size() == 1:
        return
    for buffer in module.buffers():
        if buffer.is_floating_point():
            all_reduce(buffer, op='mean')
        else:
            broadcast(buffer, src=0)


class MeanTeacher(nn.Module):
    """A ``student`` and its EMA ``teacher`` (a deep copy at construction).

    The teacher's parameters have ``requires_grad=False`` (so optimisers built
    from ``parameters()`` with a grad filter and DDP's gradient sync skip
    them) and it stays in eval mode whatever ``train()`` is called with.
    """

    def __init__(self, student: nn.Module):
        super().__init__()
        self.student = student
        self.teacher = copy.deepcopy(student)
        self.teacher.requires_grad_(False)
        self.teacher.eval()

    def train(self, mode: bool = True) -> 'MeanTeacher':
        super().train(mode)
        self.teacher.eval()
        return self

    @torch.no_grad()
    def update_teacher(self, momentum: float) -> None:
        """One EMA step of the teacher towards the student (see module doc)."""
        ema_update_(self.teacher, self.student, momentum)
        sync_buffers_(self.teacher)

    @torch.no_grad()
    def reset_teacher(self) -> None:
        """Teacher := student (e.g. after loading the student's weights)."""
        self.update_teacher(0.0)


TEACHER_PREFIX = 'mean_teacher.teacher.'


def teacher_state_dict(state_dict: dict) -> dict:
    """The teacher alone, keyed as a plain detector's weights: what a
    mean-teacher model needs for inference (a zoo file holds only this)."""
    teacher = {k[len(TEACHER_PREFIX):]: v for k, v in state_dict.items()
               if k.startswith(TEACHER_PREFIX)}
    if not teacher:
        raise KeyError('no mean_teacher.teacher.* weights in the state dict')
    return teacher


def _student_state_to_mean_teacher(module, state_dict, prefix, *args) -> None:
    """Load-state-dict pre-hook of ``MeanTeacherModel``: a plain student state
    dict (no ``mean_teacher.`` keys, e.g. a detector trained alone or a
    teacher-only zoo file) is copied into both student and teacher."""
    own = [k for k in state_dict if k.startswith(prefix)]
    if any(k.startswith(prefix + 'mean_teacher.') for k in own):
        return
    for key in own:
        name = key[len(prefix):]
        if name.startswith('data_preprocessor.'):
            continue
        value = state_dict.pop(key)
        state_dict[f'{prefix}mean_teacher.student.{name}'] = value
        state_dict[f'{prefix}mean_teacher.teacher.{name}'] = value.clone()


class MeanTeacherModel(TaskModel):
    """Base of teacher-student task models: ``self.mean_teacher`` over a
    ``student``, the ``student`` / ``teacher`` properties and
    ``update_teacher`` for ``MeanTeacherHook``.

    Loading a checkpoint of the student alone (``load_from`` a model trained
    without a teacher) fills both student and teacher; a checkpoint of the
    whole model loads as it is.
    """

    def __init__(self, student: nn.Module,
                 data_preprocessor: Optional[dict] = None, init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.mean_teacher = MeanTeacher(student)
        self.register_load_state_dict_pre_hook(_student_state_to_mean_teacher)

    @property
    def student(self) -> nn.Module:
        return self.mean_teacher.student

    @property
    def teacher(self) -> nn.Module:
        return self.mean_teacher.teacher

    def update_teacher(self, momentum: float) -> None:
        self.mean_teacher.update_teacher(momentum)

    def checkpoint_view(self, state_dict: dict) -> dict:
        state_dict = dict(state_dict)
        _student_state_to_mean_teacher(self, state_dict, '')
        return state_dict

    def init_weights(self) -> None:
        """Initialise the student, then start the teacher from it."""
        super().init_weights()
        self.mean_teacher.reset_teacher()
