"""The on-disk format of a PET/CT grounding data set (PhantomPET or real data).

::

    <root>/dataset.json          slice_convention, splits {split: [exam ids]}
    <root>/reports.csv           exam_id, tracer, findings
    <root>/images/<exam>_pet.nii.gz   PET in SUV
    <root>/images/<exam>_ct.nii.gz    CT in HU, on the PET grid
    <root>/ground_truth/sentences.csv exam_id, sentence_index, lesion_id,
                                      kind, sentence   (optional)
    <root>/ground_truth/lesions/<exam>.nii.gz  lesion ids, 0 = none (optional)
    <root>/weak_labels/labels.csv     written by tools/data/make_petct_labels.py
    <root>/weak_labels/<exam>_s<sentence_index>.nii.gz

``sentence_index`` counts the sentences that ``report_text.split_sentences``
finds in the exam's findings, from 0.
"""
import csv
import json
import os
from typing import Dict, List, Sequence, Tuple

import numpy as np

from ..io import DataError, check_dir, check_file, load_json, require_keys
from .nifti import check_same_grid, load_volume
from .slices import SLICE_CONVENTIONS

WEAK_LABEL_COLUMNS = ('exam_id', 'tracer', 'sentence_index', 'status',
                      'reason', 'slice', 'suv', 'threshold_ratio',
                      'label_file', 'sentence')


def read_csv(path: str, columns: Sequence[str],
             may_be_empty: Sequence[str] = ()) -> List[dict]:
    """Rows of a CSV file as dicts; the header must hold ``columns``, and
    every row a value for each of them except those in ``may_be_empty``."""
    check_file(path, 'table')
    with open(path, newline='', encoding='utf-8') as f:
        reader = csv.DictReader(f)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f'{path}: missing column(s) {missing}; the header '
                            f'is {reader.fieldnames}')
        rows = list(reader)
    for line, row in enumerate(rows, start=2):
        empty = [c for c in columns
                 if row[c] in (None, '') and c not in may_be_empty]
        if empty:
            raise DataError(f'{path} line {line}: empty value for {empty}')
    return rows


def write_csv(path: str, columns: Sequence[str], rows: Sequence[dict]) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, 'w', newline='', encoding='utf-8') as f:
        writer = csv.DictWriter(f, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)


class PETCTLayout:
    """Paths and tables of one data-set folder, with errors that name them."""

    def __init__(self, root: str):
        self.root = check_dir(root, 'PET/CT data folder')
        self.meta_path = os.path.join(root, 'dataset.json')
        self.reports_path = os.path.join(root, 'reports.csv')
        self.sentences_path = os.path.join(root, 'ground_truth',
                                           'sentences.csv')

    # -- metadata and tables ------------------------------------------------
    def meta(self) -> dict:
        meta = load_json(self.meta_path)
        require_keys(meta, ('slice_convention', 'splits'), self.meta_path)
        if meta['slice_convention'] not in SLICE_CONVENTIONS:
            raise DataError(f'{self.meta_path}: slice_convention '
                            f'{meta["slice_convention"]!r} is not one of '
                            f'{SLICE_CONVENTIONS}')
        if not isinstance(meta['splits'], dict):
            raise DataError(f'{self.meta_path}: "splits" must map split '
                            'names to lists of exam ids')
        return meta

    def exam_ids(self, split: str) -> List[str]:
        splits = self.meta()['splits']
        if split not in splits:
            raise DataError(f'{self.meta_path}: no split {split!r}; it has '
                            f'{sorted(splits)}')
        return list(splits[split])

    def reports(self) -> Dict[str, dict]:
        """``{exam_id: {'tracer', 'findings'}}`` from reports.csv."""
        rows = read_csv(self.reports_path, ('exam_id', 'tracer', 'findings'),
                        may_be_empty=('findings',))
        return {row['exam_id']: dict(tracer=row['tracer'],
                                     findings=row['findings'] or '')
                for row in rows}

    def has_ground_truth(self) -> bool:
        return os.path.isfile(self.sentences_path)

    def ground_truth_sentences(self) -> List[dict]:
        rows = read_csv(self.sentences_path,
                        ('exam_id', 'sentence_index', 'lesion_id', 'kind',
                         'sentence'))
        for row in rows:
            row['sentence_index'] = int(row['sentence_index'])
            row['lesion_id'] = int(row['lesion_id'])
        return rows

    # -- volumes ------------------------------------------------------------
    def pet_path(self, exam_id: str) -> str:
        return os.path.join(self.root, 'images', f'{exam_id}_pet.nii.gz')

    def ct_path(self, exam_id: str) -> str:
        return os.path.join(self.root, 'images', f'{exam_id}_ct.nii.gz')

    def lesion_mask_path(self, exam_id: str) -> str:
        return os.path.join(self.root, 'ground_truth', 'lesions',
                            f'{exam_id}.nii.gz')

    def weak_label_dir(self, name: str = 'weak_labels') -> str:
        return os.path.join(self.root, name)

    def load_exam(self, exam_id: str
                  ) -> Tuple[np.ndarray, np.ndarray, Tuple[float, ...]]:
        """PET (SUV) and CT (HU) as (X, Y, Z) float32 arrays, and spacing."""
        pet_path, ct_path = self.pet_path(exam_id), self.ct_path(exam_id)
        pet, spacing = load_volume(pet_path, 'PET volume')
        ct, _ = load_volume(ct_path, 'CT volume')
        check_same_grid({pet_path: pet, ct_path: ct})
        return pet, ct, spacing

    def load_label(self, path: str, shape: Tuple[int, ...]) -> np.ndarray:
        """An integer label volume that must lie on the exam's grid."""
        label, _ = load_volume(path, 'label volume', dtype=np.int32)
        check_same_grid({path: label}, expected_shape=shape)
        return label


def write_meta(root: str, meta: dict) -> None:
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, 'dataset.json'), 'w') as f:
        json.dump(meta, f, indent=2)
