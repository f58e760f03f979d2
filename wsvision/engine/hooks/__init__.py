from .mean_teacher import MeanTeacherHook
from .non_finite_loss import NonFiniteLossHook
from .random_state import RandomStateHook
from .weights_digest import WeightsDigestHook, state_dict_digest

__all__ = ['NonFiniteLossHook', 'RandomStateHook', 'WeightsDigestHook', 'state_dict_digest']
