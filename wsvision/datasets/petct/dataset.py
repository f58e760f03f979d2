"""``PETCTGroundingDataset``: (PET/CT volume, sentence) -> lesion mask."""
import os
from typing import List, Optional, Sequence

import numpy as np
import torch
from mmengine.dataset import BaseDataset

from ...registry import DATASETS
from ..io import DataError
from .data_sample import GroundingDataSample
from .layout import WEAK_LABEL_COLUMNS, PETCTLayout, read_csv
from .phantom import TRACERS
from .report_text import strip_slice_and_suv
from .transforms import petct_transforms

LABEL_SOURCES = ('weak', 'true')


@DATASETS.register_module()
class PETCTGroundingDataset(BaseDataset):
    """One sample per sentence that refers to a lesion.

    Args:
        data_root: a folder in the PET/CT layout (``layout.py``).
        split: which exams (a key of ``splits`` in ``dataset.json``).
        label_source: 'weak' reads the kept sentences of
            ``<data_root>/<weak_label_dir>/labels.csv`` and their pipeline
            masks; 'true' reads ``ground_truth/sentences.csv`` and the
            referenced lesion of ``ground_truth/lesions``.
        weak_label_dir: folder name of the weak labels.
        crop_size: training patch size (X, Y, Z); ``None`` trains on whole
            volumes.
        leak_guard: strip slice and SUV strings from the text the model
            reads (the report sentence is kept in ``sentence``).
        seed: seed of the random transforms.
        test_mode: no random transforms when True.

    Each item is ``dict(inputs=(2, X, Y, Z) float32 [PET, CT] in [0, 1],
    data_samples=GroundingDataSample)``.
    """

    METAINFO = dict(classes=('background', 'lesion'), tracers=tuple(TRACERS))

    def __init__(self, data_root: str, split: str = 'train',
                 label_source: str = 'weak',
                 weak_label_dir: str = 'weak_labels',
                 crop_size: Optional[Sequence[int]] = None,
                 leak_guard: bool = True, seed: int = 0,
                 test_mode: bool = False, **kwargs):
        if label_source not in LABEL_SOURCES:
            raise ValueError(f'label_source must be one of {LABEL_SOURCES}, '
                             f'got {label_source!r}')
        self.layout = PETCTLayout(data_root)
        self.split = split
        self.label_source = label_source
        self.weak_label_dir = weak_label_dir
        self.leak_guard = leak_guard
        self.transform = petct_transforms(train=not test_mode,
                                          crop_size=crop_size)
        self.transform.set_random_state(seed)
        super().__init__(data_root=data_root, test_mode=test_mode,
                         pipeline=[], **kwargs)

    def _sentence_rows(self) -> List[dict]:
        if self.label_source == 'true':
            if not self.layout.has_ground_truth():
                raise DataError(f'label_source="true" needs '
                                f'{self.layout.sentences_path}')
            return [dict(row, label_path=self.layout.lesion_mask_path(
                row['exam_id']), label_value=row['lesion_id'])
                for row in self.layout.ground_truth_sentences()
                if row['lesion_id'] > 0]
        folder = self.layout.weak_label_dir(self.weak_label_dir)
        table = os.path.join(folder, 'labels.csv')
        if not os.path.isfile(table):
            raise DataError(f'weak labels not found: {table}; run '
                            'tools/data/make_petct_labels.py first')
        return [dict(exam_id=row['exam_id'],
                     sentence_index=int(row['sentence_index']),
                     sentence=row['sentence'],
                     label_path=os.path.join(folder, row['label_file']),
                     label_value=1)
                for row in read_csv(table, WEAK_LABEL_COLUMNS,
                                    may_be_empty=WEAK_LABEL_COLUMNS)
                if row['status'] == 'kept']

    def load_data_list(self) -> List[dict]:
        exams = set(self.layout.exam_ids(self.split))
        reports = self.layout.reports()
        data_list = []
        for row in self._sentence_rows():
            if row['exam_id'] not in exams:
                continue
            if row['exam_id'] not in reports:
                raise DataError(f'{self.layout.reports_path}: no report for '
                                f'exam {row["exam_id"]!r}')
            sentence = row['sentence']
            data_list.append(dict(
                exam_id=row['exam_id'],
                tracer=reports[row['exam_id']]['tracer'],
                sentence_index=row['sentence_index'], sentence=sentence,
                text=strip_slice_and_suv(sentence) if self.leak_guard
                else sentence,
                pet_path=self.layout.pet_path(row['exam_id']),
                ct_path=self.layout.ct_path(row['exam_id']),
                label_path=row['label_path'], label_value=row['label_value']))
        if not data_list:
            raise DataError(f'{self.layout.root}: split {self.split!r} has no '
                            f'sentence with a {self.label_source} label')
        return data_list

    def prepare_data(self, idx: int) -> dict:
        info = self.get_data_info(idx)
        pet, ct, spacing = self.layout.load_exam(info['exam_id'])
        label = self.layout.load_label(info['label_path'], pet.shape)
        sample = self.transform(dict(
            pet=pet, ct=ct, label=(label == info['label_value']).astype(
                np.float32)))
        if isinstance(sample, list):  # the random crop returns a list
            sample = sample[0]
        data_sample = GroundingDataSample(metainfo=dict(
            exam_id=info['exam_id'], tracer=info['tracer'],
            sentence_index=info['sentence_index'], sentence=info['sentence'],
            text=info['text'], spacing=spacing,
            label_source=self.label_source))
        data_sample.gt_mask = torch.as_tensor(
            np.asarray(sample['label']) > 0.5).to(torch.uint8)
        return dict(inputs=torch.as_tensor(np.asarray(sample['image']),
                                           dtype=torch.float32),
                    data_samples=data_sample)
