"""Person search's re-identification parts: the SSL losses (boxes only), the
OIM upper bound and the DDP-synchronised feature memories they share."""
from .batch import ReIDBatch
from .memory import FeatureMemory
from .oim import OIMLoss
from .ssl import (SSLLoss, SSLScheduleHook, exemplar_inputs, keep_most_similar,
                  kmeans_box_scales, label_threshold, multi_label_loss, retint,
                  scale_invariant_loss, scene_prior_labels)

__all__ = ['ReIDBatch', 'FeatureMemory', 'OIMLoss', 'SSLLoss',
           'SSLScheduleHook', 'exemplar_inputs', 'keep_most_similar',
           'kmeans_box_scales',
           'label_threshold', 'multi_label_loss', 'retint', 'scale_invariant_loss',
           'scene_prior_labels']
