"""The report-to-voxel pipeline on synthetic exams and on the tiny build."""
import csv
import os

import numpy as np

from wsvision.datasets.petct.weak_label_pipeline import (format_label_summary,
                                                         label_report,
                                                         score_weak_labels)


def exam_with_two_lesions():
    """PET 1 SUV background, lesions of SUVmax 8.0 (slice 31, array z=9)
    and 4.0 (slice 11, z=29) on a 40-slice grid, 4 mm voxels."""
    pet = np.ones((24, 24, 40), np.float32)
    grid = np.indices(pet.shape)
    for center, value in (((8, 12, 9), 8.0), ((16, 12, 29), 4.0)):
        inside = sum((g - c) ** 2 for g, c in zip(grid, center)) <= 9
        pet[inside] = value
    return pet


def test_label_report_end_to_end():
    pet = exam_with_two_lesions()
    findings = ('Background liver SUVmax 1.0. Right axillary node (slice 31), '
                'SUV max 8.0. Left axillary node on slice 11, previously SUV '
                '2.0, now SUVmax 4.0. Faint node (slice 11), SUV 1.9. '
                'Node on slice 20, SUV 8.0.')
    labels = label_report(findings, pet, (4.0, 4.0, 4.0), 'superior_first')
    assert [label.drop_reason for label in labels] == [
        'background', None, None, 'suv_below_2.5', 'no_component_at_slice']
    first, second = labels[1].mask, labels[2].mask
    assert first[8, 12, 9] and not first[16, 12, 29]
    assert second[16, 12, 29] and not second[8, 12, 9]
    assert (labels[1].slice_number, labels[1].suv) == (31, 8.0)


def test_tiny_build_labels_and_scores(tiny_phantom):
    table = os.path.join(tiny_phantom, 'weak_labels', 'labels.csv')
    with open(table) as f:
        rows = list(csv.DictReader(f))
    kept = [row for row in rows if row['status'] == 'kept']
    assert kept and all(os.path.isfile(os.path.join(
        tiny_phantom, 'weak_labels', row['label_file'])) for row in kept)
    reasons = {row['reason'] for row in rows if row['status'] == 'dropped'}
    assert {'background', 'suv_below_2.5'} <= reasons
    score = score_weak_labels(tiny_phantom, rows)
    assert score['kept'] == len(kept)
    # The tiny grid has 15 mm voxels, so a few lesions blur into neighbours.
    assert score['accuracy'] >= 0.9
    assert 0.5 < score['mean_dice'] <= 1.0
    summary = format_label_summary(rows, score)
    assert f'kept: {len(kept)}' in summary
    assert 'dropped, background:' in summary
    assert 'weak-label accuracy:' in summary
