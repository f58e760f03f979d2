from .test_time_learning import TestTimeLearningLoop

__all__ = ['TestTimeLearningLoop']
