from .assigners import BACKGROUND, IGNORED, AssignResult, MaxIoUAssigner
from .classifiers import LinearClassifier
from .roi_head import RoIHeadOutput, RoITargets, StandardRoIHead

__all__ = ['AssignResult', 'MaxIoUAssigner', 'BACKGROUND', 'IGNORED',
           'LinearClassifier', 'RoIHeadOutput', 'RoITargets', 'StandardRoIHead']
