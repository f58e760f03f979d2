from . import loops  # noqa: F401 (registers TestTimeLearningLoop)
from .ddp import CPUAwareDDP, finish_distributed, init_cpu_distributed
from .optim_wrapper import BF16AutocastOptimWrapper, bf16_native
from .hooks import NonFiniteLossHook, WeightsDigestHook, state_dict_digest

__all__ = ['BF16AutocastOptimWrapper', 'bf16_native', 'CPUAwareDDP',
           'finish_distributed', 'init_cpu_distributed',
           'NonFiniteLossHook', 'WeightsDigestHook', 'state_dict_digest']
