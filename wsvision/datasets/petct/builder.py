"""Write a PhantomPET data set to disk in the PET/CT layout (``layout.py``).

The build is deterministic: exam ``i`` is drawn from
``numpy.random.default_rng([seed, i])``, so any exam can be rebuilt alone and
the same seed gives the same files on every machine.
"""
import os
from typing import Dict, Optional

import numpy as np

from .layout import PETCTLayout, write_csv, write_meta
from .nifti import save_volume
from .phantom import TRACERS, grid_spacing, make_exam
from .reports import write_findings

#: Slice numbering of PhantomPET reports: slice 1 is the most superior slice.
PHANTOM_SLICE_CONVENTION = 'superior_first'

PRESETS: Dict[str, dict] = {
    # Unit tests: seconds to build.
    'tiny': dict(shape=(32, 32, 48), splits=dict(train=8, val=2, test=4)),
    # Benchmark on 2 CPU cores.
    'cpu': dict(shape=(48, 48, 64), splits=dict(train=160, val=8, test=32)),
    # The default 96x96x128 grid, for a GPU.
    'gpu': dict(shape=(96, 96, 128),
                splits=dict(train=480, val=40, test=120)),
}


def build_phantom_pet(out_dir: str, preset: str = 'cpu', seed: int = 0,
                      splits: Optional[Dict[str, int]] = None,
                      shape=None) -> PETCTLayout:
    """Build PhantomPET into ``out_dir`` and return its layout.

    Args:
        out_dir: destination folder (created; existing files are replaced).
        preset: 'tiny', 'cpu' or 'gpu' (grid size and split sizes).
        seed: drives every random draw.
        splits: ``{split: number of exams}`` overriding the preset's.
        shape: (X, Y, Z) grid overriding the preset's.
    """
    if preset not in PRESETS:
        raise ValueError(f'unknown preset {preset!r}; expected one of '
                         f'{sorted(PRESETS)}')
    shape = tuple(shape or PRESETS[preset]['shape'])
    splits = dict(splits or PRESETS[preset]['splits'])
    tracers = list(TRACERS)
    split_ids, report_rows, sentence_rows, lesion_rows = {}, [], [], []
    exam_index = 0
    os.makedirs(out_dir, exist_ok=True)
    layout_paths = PETCTLayout(out_dir)
    for split, count in splits.items():
        split_ids[split] = []
        for i in range(count):
            exam_id = f'{split}_{i:04d}'
            rng = np.random.default_rng([seed, exam_index])
            exam_index += 1
            # Tracers cycle inside each split, so every split is balanced.
            exam = make_exam(rng, shape, tracers[i % len(tracers)])
            sentences = write_findings(rng, exam, PHANTOM_SLICE_CONVENTION)
            save_volume(layout_paths.pet_path(exam_id), exam.pet, exam.spacing)
            save_volume(layout_paths.ct_path(exam_id), exam.ct, exam.spacing)
            save_volume(layout_paths.lesion_mask_path(exam_id),
                        exam.lesion_labels, exam.spacing)
            split_ids[split].append(exam_id)
            report_rows.append(dict(
                exam_id=exam_id, tracer=exam.tracer.name,
                findings=' '.join(s.text for s in sentences)))
            sentence_rows += [dict(exam_id=exam_id, sentence_index=k,
                                   lesion_id=s.lesion_id, kind=s.kind,
                                   sentence=s.text)
                              for k, s in enumerate(sentences)]
            lesion_rows += [dict(
                exam_id=exam_id, lesion_id=lesion.lesion_id,
                site=lesion.site.key, suv_max=round(lesion.suv_max, 3),
                max_voxel=' '.join(map(str, lesion.max_index)),
                volume_ml=round(float(lesion.mask.sum() * np.prod(
                    exam.spacing)) / 1000, 3))
                for lesion in exam.lesions]
    write_csv(layout_paths.reports_path, ('exam_id', 'tracer', 'findings'),
              report_rows)
    write_csv(layout_paths.sentences_path,
              ('exam_id', 'sentence_index', 'lesion_id', 'kind', 'sentence'),
              sentence_rows)
    write_csv(os.path.join(out_dir, 'ground_truth', 'lesions.csv'),
              ('exam_id', 'lesion_id', 'site', 'suv_max', 'max_voxel',
               'volume_ml'), lesion_rows)
    write_meta(out_dir, dict(
        name='PhantomPET', preset=preset, seed=seed, shape=list(shape),
        spacing_mm=[round(s, 4) for s in grid_spacing(shape)],
        slice_convention=PHANTOM_SLICE_CONVENTION,
        orientation='RAS+ (X to the right, Y anterior, Z superior)',
        tracers=tracers, splits=split_ids))
    return layout_paths
