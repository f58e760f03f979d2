"""The report-to-voxel weak-label pipeline, rule-based by default.

1. Split the findings into sentences (``report_text``).
2. Drop background-uptake sentences.
3-4. Read the slice and the SUV with the count and "previously" rules
   (``extractors``; the default is rule-based, an LLM vote can plug in).
5. Keep SUV >= 2.5.
6. Match the sentence to a 6-connected component (``voxel_labels``).
7. Grow the label by iterative thresholding.

Every sentence ends as kept (with a mask) or dropped (with a reason).
"""
import os
from collections import Counter
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..io import DataError
from .extractors import SliceSuvExtractor, build_extractor
from .layout import WEAK_LABEL_COLUMNS, PETCTLayout, write_csv
from .nifti import load_volume, save_volume
from .report_text import is_background_sentence, split_sentences
from .slices import slice_to_index
from .voxel_labels import find_matching_component, iterative_threshold

MIN_SUV = 2.5


@dataclass
class SentenceLabel:
    """The pipeline's verdict on one sentence."""
    sentence_index: int
    sentence: str
    drop_reason: Optional[str] = None
    slice_number: Optional[int] = None
    suv: Optional[float] = None
    threshold_ratio: Optional[float] = None
    mask: Optional[np.ndarray] = None  # (X, Y, Z) bool when kept

    @property
    def kept(self) -> bool:
        return self.drop_reason is None


def label_sentence(index: int, sentence: str, pet: np.ndarray,
                   spacing: Sequence[float], convention: str,
                   extractor: SliceSuvExtractor) -> SentenceLabel:
    """Steps 2-7 for one sentence of an exam whose PET (X, Y, Z) is ``pet``."""
    result = SentenceLabel(index, sentence)
    if is_background_sentence(sentence):
        result.drop_reason = 'background'
        return result
    extraction = extractor.extract(sentence)
    if not extraction.kept:
        result.drop_reason = extraction.drop_reason
        return result
    result.slice_number, result.suv = extraction.slice_number, extraction.suv
    if extraction.suv < MIN_SUV:
        result.drop_reason = 'suv_below_2.5'
        return result
    try:
        slice_index = slice_to_index(extraction.slice_number, pet.shape[2],
                                     convention)
    except ValueError:
        result.drop_reason = 'slice_outside_volume'
        return result
    component, reason = find_matching_component(pet, slice_index,
                                                extraction.suv)
    if component is None:
        result.drop_reason = reason
        return result
    grown = iterative_threshold(pet, component, spacing)
    result.threshold_ratio = grown.threshold_ratio
    result.drop_reason = grown.drop_reason
    result.mask = grown.mask
    return result


def label_report(findings: str, pet: np.ndarray, spacing: Sequence[float],
                 convention: str,
                 extractor: Optional[SliceSuvExtractor] = None
                 ) -> List[SentenceLabel]:
    """Run the pipeline over one exam's findings section."""
    extractor = extractor or build_extractor()
    return [label_sentence(i, sentence, pet, spacing, convention, extractor)
            for i, sentence in enumerate(split_sentences(findings))]


def weak_label_file(exam_id: str, sentence_index: int) -> str:
    return f'{exam_id}_s{sentence_index}.nii.gz'


def _format(value, digits=3):
    return '' if value is None else (round(value, digits)
                                     if isinstance(value, float) else value)


def label_dataset(root: str, out_name: str = 'weak_labels',
                  splits: Optional[Sequence[str]] = None,
                  extractor_cfg=None) -> List[dict]:
    """Label every report of ``splits`` (default: all) of the data set at
    ``root``; write one NIfTI per kept sentence and ``labels.csv``.

    Returns:
        The rows of ``labels.csv`` (``layout.WEAK_LABEL_COLUMNS``).
    """
    layout = PETCTLayout(root)
    meta = layout.meta()
    reports = layout.reports()
    extractor = build_extractor(extractor_cfg)
    out_dir = layout.weak_label_dir(out_name)
    split_names = splits or list(meta['splits'])
    rows = []
    for split in split_names:
        for exam_id in layout.exam_ids(split):
            if exam_id not in reports:
                raise DataError(f'{layout.reports_path}: no report for exam '
                                f'{exam_id!r} listed in split {split!r}')
            pet, _, spacing = layout.load_exam(exam_id)
            report = reports[exam_id]
            for label in label_report(report['findings'], pet, spacing,
                                      meta['slice_convention'], extractor):
                label_file = ''
                if label.kept:
                    label_file = weak_label_file(exam_id, label.sentence_index)
                    save_volume(os.path.join(out_dir, label_file),
                                label.mask.astype(np.uint8), spacing)
                rows.append(dict(
                    exam_id=exam_id, tracer=report['tracer'],
                    sentence_index=label.sentence_index,
                    status='kept' if label.kept else 'dropped',
                    reason=label.drop_reason or '',
                    slice=_format(label.slice_number), suv=_format(label.suv),
                    threshold_ratio=_format(label.threshold_ratio),
                    label_file=label_file, sentence=label.sentence))
    write_csv(os.path.join(out_dir, 'labels.csv'), WEAK_LABEL_COLUMNS, rows)
    return rows


def score_weak_labels(root: str, rows: Sequence[dict],
                      out_name: str = 'weak_labels') -> Dict[str, object]:
    """Compare the pipeline's verdicts with the ground truth of ``root``.

    A kept label is correct when, of all the exam's lesions, the referenced
    one overlaps it most (it "lands on the referenced lesion").

    Returns:
        ``kept``, ``dropped``, ``drop_reasons`` (count per reason),
        ``accuracy`` (correct / kept), ``mean_dice`` of the kept labels with
        their referenced lesions, ``recall`` (kept and correct / sentences
        that refer to a lesion) and ``errors`` (the wrong labels).
    """
    layout = PETCTLayout(root)
    truth = {(row['exam_id'], row['sentence_index']): row
             for row in layout.ground_truth_sentences()}
    out_dir = layout.weak_label_dir(out_name)
    correct, dice_scores, errors, lesion_masks = 0, [], [], {}
    kept = [row for row in rows if row['status'] == 'kept']
    for row in kept:
        key = (row['exam_id'], int(row['sentence_index']))
        if key not in truth:
            raise DataError(f'{layout.sentences_path}: no ground truth for '
                            f'exam {key[0]} sentence {key[1]}')
        if row['exam_id'] not in lesion_masks:
            lesion_masks[row['exam_id']] = load_volume(
                layout.lesion_mask_path(row['exam_id']), 'lesion mask',
                dtype=np.int32)[0]
        lesions = lesion_masks[row['exam_id']]
        label = layout.load_label(os.path.join(out_dir, row['label_file']),
                                  lesions.shape) > 0
        overlap = np.bincount(lesions[label].ravel(),
                              minlength=int(lesions.max()) + 1)
        overlap[0] = 0
        target = truth[key]['lesion_id']
        if target > 0 and overlap.max() > 0 and overlap.argmax() == target:
            correct += 1
        else:
            errors.append(dict(exam_id=key[0], sentence_index=key[1],
                               referenced_lesion=target,
                               labelled_lesion=int(overlap.argmax())))
        if target > 0:
            reference = lesions == target
            dice_scores.append(2 * float((label & reference).sum())
                               / float(label.sum() + reference.sum()))
    labelled_exams = {row['exam_id'] for row in rows}
    referring = sum(1 for row in truth.values() if row['lesion_id'] > 0
                    and row['exam_id'] in labelled_exams)
    return dict(
        sentences=len(rows), kept=len(kept), dropped=len(rows) - len(kept),
        drop_reasons=dict(Counter(row['reason'] for row in rows
                                  if row['status'] != 'kept')),
        accuracy=correct / len(kept) if kept else float('nan'),
        mean_dice=float(np.mean(dice_scores)) if dice_scores else float('nan'),
        recall=correct / referring if referring else float('nan'),
        errors=errors)


def format_label_summary(rows: Sequence[dict],
                         score: Optional[Dict[str, object]] = None) -> str:
    """A short text report: kept and dropped counts, the reason for each
    drop, and (with ``score`` from ``score_weak_labels``) the accuracy."""
    kept = sum(1 for row in rows if row['status'] == 'kept')
    reasons = Counter(row['reason'] for row in rows if row['status'] != 'kept')
    lines = [f'sentences: {len(rows)}   kept: {kept}   dropped: '
             f'{len(rows) - kept}']
    lines += [f'  dropped, {reason}: {count}'
              for reason, count in reasons.most_common()]
    if score is not None:
        lines.append(f'weak-label accuracy: {100 * score["accuracy"]:.1f}% '
                     f'({score["kept"] - len(score["errors"])}/{score["kept"]}'
                     ' kept labels on the referenced lesion; the paper: 98%)')
        lines.append(f'mean Dice with the referenced lesion: '
                     f'{score["mean_dice"]:.3f}   recall of lesion '
                     f'sentences: {100 * score["recall"]:.1f}%')
    return '\n'.join(lines)
