"""The teacher–student engine shared by PS-TTL, MarvelOVD and WSCoL."""
from .ema import (MeanTeacher, MeanTeacherModel, ema_update_, sync_buffers_,
                  teacher_state_dict)
from .memory import ClassFeatureQueue, all_gather_rows
from .pseudo_labels import PseudoLabels, split_pseudo_labels
from .quality import (PseudoLabelQualityHook, PseudoLabelQualityLog,
                      add_pl_stats, pseudo_label_quality)
from .views import WeakStrongViews, build_albumentations

__all__ = ['MeanTeacher', 'MeanTeacherModel', 'ema_update_', 'sync_buffers_',
           'teacher_state_dict',
           'ClassFeatureQueue',
           'all_gather_rows', 'PseudoLabels', 'split_pseudo_labels',
           'PseudoLabelQualityHook', 'PseudoLabelQualityLog', 'add_pl_stats',
           'pseudo_label_quality', 'WeakStrongViews', 'build_albumentations']
