from . import loops  # noqa: F401 (registers TestTimeLearningLoop)
from .ddp import CPUAwareDDP, finish_distributed, init_cpu_distributed
from .hooks import NonFiniteLossHook, WeightsDigestHook, state_dict_digest

__all__ = ['CPUAwareDDP', 'finish_distributed', 'init_cpu_distributed',
           'NonFiniteLossHook', 'WeightsDigestHook', 'state_dict_digest']
