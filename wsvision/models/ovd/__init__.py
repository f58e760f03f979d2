"""Open-vocabulary detection: MarvelOVD and its pseudo-label data path."""
from .data import (PL_FIELD, LoadOVDAnnotations, OVDPseudoLabelDataset,
                   PackOVDInputs, check_pl_annotation)
from .marvel_ovd import (MarvelOVD, StratifiedAssigner,
                         TextEmbeddingClassifier, adaptive_weights,
                         mining_scores)
from .pseudo_labels import (crop_boxes, pseudo_label_coco, select_pseudo_labels,
                            vlm_box_probs)

__all__ = ['PL_FIELD', 'LoadOVDAnnotations', 'OVDPseudoLabelDataset',
           'PackOVDInputs', 'check_pl_annotation', 'MarvelOVD',
           'StratifiedAssigner', 'TextEmbeddingClassifier', 'adaptive_weights',
           'mining_scores', 'crop_boxes', 'pseudo_label_coco', 'select_pseudo_labels',
           'vlm_box_probs']
