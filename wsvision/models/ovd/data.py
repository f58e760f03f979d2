"""Loading a pseudo-label (PL) file: base ground truth and VLM pseudo-labels.

The file is COCO JSON written by ``tools/data/make_ovd_pseudo_labels.py``.
Every annotation carries an explicit boolean ``pseudo_label`` field (false for
base ground truth) and PLs carry their VLM ``score``. Base and PL boxes are
told apart by that field only, never by a score (a PL whose score rounds to 1
stays a PL; see the reference bugs in methods.md section 2).

- ``OVDPseudoLabelDataset`` adds ``pseudo_label`` / ``vlm_score`` to every
  instance record (base ground truth gets score 1);
- ``LoadOVDAnnotations`` turns them into ``gt_pl_flags`` / ``gt_vlm_scores``
  arrays that move with the boxes;
- ``PackOVDInputs`` packs them as ``gt_instances.pl_flags`` (bool) and
  ``gt_instances.scores`` (float).

With ``hidden_ann_file`` (the full annotations of the same images, e.g. the
core ``train/instances.json``) the records also carry ``hidden_instances``,
packed as ``data_samples.hidden_instances``: they only measure pseudo-label
precision / recall (``PseudoLabelQualityHook``), never enter a loss.
"""
import os.path as osp
from typing import Dict, List, Optional

import numpy as np
import torch

from ...datasets.coco import FashionScenesDetDataset
from ...datasets.io import DataError, load_json
from ...datasets.transforms import LoadDetAnnotations, PackDetInputs
from ...registry import DATASETS, TRANSFORMS
from ...structures import InstanceData

#: The annotation field that marks a pseudo-label.
PL_FIELD = 'pseudo_label'


def check_pl_annotation(ann: dict, where: str) -> None:
    """Raise ``DataError`` unless ``ann`` has a boolean ``pseudo_label`` and,
    for a PL, a ``score`` in [0, 1]."""
    if not isinstance(ann.get(PL_FIELD), bool):
        raise DataError(f'{where}: annotation id {ann.get("id")} needs a '
                        f'boolean {PL_FIELD!r} field (false for ground truth, '
                        f'true for a pseudo-label), got {ann.get(PL_FIELD)!r}')
    if ann[PL_FIELD]:
        score = ann.get('score')
        if not isinstance(score, (int, float)) or not 0.0 <= score <= 1.0:
            raise DataError(f'{where}: pseudo-label id {ann.get("id")} needs a '
                            f'score in [0, 1], got {score!r}')


@DATASETS.register_module()
class OVDPseudoLabelDataset(FashionScenesDetDataset):
    """A FashionScenes split annotated with base ground truth plus PLs.

    Arguments as ``FashionScenesDetDataset``; ``ann_file`` is the PL file.
    Each instance record gains ``pseudo_label`` (bool) and ``vlm_score``.

    Args:
        hidden_ann_file: optional full annotations of the same images
            (relative to ``data_root``), for pseudo-label quality only.
    """

    def __init__(self, *args, hidden_ann_file: Optional[str] = None,
                 **kwargs):
        self.hidden_ann_file = hidden_ann_file
        super().__init__(*args, **kwargs)

    def _hidden_boxes(self, cat2label: Dict[int, int]) -> Dict[int, list]:
        path = osp.join(self.data_root, self.hidden_ann_file)
        hidden: Dict[int, list] = {}
        for ann in load_json(path).get('annotations', []):
            if ann.get('category_id') not in cat2label:
                raise DataError(f'{path}: annotation id {ann.get("id")} has '
                                f'category_id {ann.get("category_id")}, not '
                                f'one of {sorted(cat2label)}')
            x, y, w, h = ann['bbox']
            hidden.setdefault(ann['image_id'], []).append(
                dict(bbox=[x, y, x + w, y + h],
                     bbox_label=cat2label[ann['category_id']]))
        return hidden

    def load_data_list(self) -> List[dict]:
        coco = load_json(self.ann_file)
        self._pl_by_ann: Dict[int, tuple] = {}
        for ann in coco.get('annotations', []):
            check_pl_annotation(ann, self.ann_file)
            self._pl_by_ann[ann['id']] = (
                ann[PL_FIELD], float(ann['score']) if ann[PL_FIELD] else 1.0)
        return super().load_data_list()

    def _parse_image(self, image, anns, img_dir, cat2label) -> dict:
        info = super()._parse_image(image, anns, img_dir, cat2label)
        for instance in info['instances']:
            instance['pseudo_label'], instance['vlm_score'] = \
                self._pl_by_ann[instance['ann_id']]
        if self.hidden_ann_file:
            if not hasattr(self, '_hidden'):
                self._hidden = self._hidden_boxes(cat2label)
            info['hidden_instances'] = self._hidden.get(image['id'], [])
        return info


@TRANSFORMS.register_module()
class LoadOVDAnnotations(LoadDetAnnotations):
    """``LoadDetAnnotations`` plus ``gt_pl_flags`` (N,) bool and
    ``gt_vlm_scores`` (N,) float32; records without the fields (a plain
    ground-truth file, e.g. the oracle's) count as ground truth, score 1."""

    def __call__(self, results: dict) -> dict:
        results = super().__call__(results)
        instances = results['instances']
        results['gt_pl_flags'] = np.array(
            [bool(inst.get('pseudo_label', False)) for inst in instances],
            dtype=bool)
        results['gt_vlm_scores'] = np.array(
            [inst.get('vlm_score', 1.0) for inst in instances],
            dtype=np.float32)
        results['instance_fields'] += ['gt_pl_flags', 'gt_vlm_scores']
        if 'hidden_instances' in results:
            hidden = results['hidden_instances']
            results['hidden_bboxes'] = np.array(
                [inst['bbox'] for inst in hidden], np.float32).reshape(-1, 4)
            results['hidden_labels'] = np.array(
                [inst['bbox_label'] for inst in hidden], np.int64)
            results['bbox_fields'].append('hidden_bboxes')
        return results


@TRANSFORMS.register_module()
class PackOVDInputs(PackDetInputs):
    """``PackDetInputs`` that also packs ``pl_flags`` and ``scores``."""

    INSTANCE_FIELDS = PackDetInputs.INSTANCE_FIELDS + (
        ('gt_pl_flags', 'pl_flags', torch.bool),
        ('gt_vlm_scores', 'scores', torch.float32))

    def __call__(self, results: dict) -> dict:
        packed = super().__call__(results)
        if 'hidden_bboxes' in results:
            packed['data_samples'].hidden_instances = InstanceData(
                bboxes=torch.from_numpy(results['hidden_bboxes']),
                labels=torch.from_numpy(results['hidden_labels']))
        return packed
