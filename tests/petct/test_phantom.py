"""PhantomPET volumes, reports and the on-disk build."""
import csv
import os

import numpy as np
import pytest

from wsvision.datasets.petct.builder import build_phantom_pet
from wsvision.datasets.petct.layout import PETCTLayout
from wsvision.datasets.petct.phantom import TRACERS, make_exam
from wsvision.datasets.petct.report_text import split_sentences
from wsvision.datasets.petct.reports import write_findings
from wsvision.datasets.petct.slices import slice_to_index

SHAPE = (32, 32, 48)


@pytest.mark.parametrize('tracer', sorted(TRACERS))
def test_exam_is_deterministic_and_plausible(tracer):
    first = make_exam(np.random.default_rng([3, 1]), SHAPE, tracer)
    again = make_exam(np.random.default_rng([3, 1]), SHAPE, tracer)
    np.testing.assert_array_equal(first.pet, again.pet)
    np.testing.assert_array_equal(first.ct, again.ct)
    other = make_exam(np.random.default_rng([4, 1]), SHAPE, tracer)
    assert not np.array_equal(first.pet, other.pet)

    assert first.pet.shape == first.ct.shape == SHAPE
    assert first.pet.min() >= 0 and first.ct.min() > -1100
    assert 1 <= len(first.lesions) <= 5
    ids = np.unique(first.lesion_labels)
    assert list(ids) == list(range(len(first.lesions) + 1))
    for lesion in first.lesions:
        assert lesion.mask.any()
        assert first.lesion_labels[lesion.max_index] == lesion.lesion_id
        assert lesion.suv_max == pytest.approx(first.pet[lesion.mask].max())


def test_tracers_differ_in_organ_uptake():
    livers = {}
    for tracer in TRACERS:
        exam = make_exam(np.random.default_rng(0), SHAPE, tracer)
        livers[tracer] = exam.reference_suv['liver']
    # FDG liver ~2.2 SUV; the three others concentrate 5-7 SUV in the liver.
    assert livers['FDG'] < 3.5 < min(livers['DCFPyL'], livers['DOTATATE'],
                                     livers['fluciclovine'])


def test_report_sentences_point_at_their_lesion():
    seen_kinds = set()
    for seed in range(12):
        rng = np.random.default_rng(seed)
        exam = make_exam(rng, SHAPE, 'FDG')
        sentences = write_findings(rng, exam, 'superior_first')
        text = ' '.join(s.text for s in sentences)
        # The pipeline's splitter recovers exactly the written sentences.
        assert split_sentences(text) == [s.text for s in sentences]
        lesions = {lesion.lesion_id: lesion for lesion in exam.lesions}
        assert sorted(s.lesion_id for s in sentences if s.lesion_id) == \
            sorted(lesions)
        for sentence in sentences:
            seen_kinds.add(sentence.kind)
            if sentence.kind not in ('finding', 'previously'):
                continue
            lesion = lesions[sentence.lesion_id]
            assert f'{lesion.suv_max:.1f}' in sentence.text
            slice_number = exam.pet.shape[2] - lesion.max_index[2]
            assert str(slice_number) in sentence.text
            assert slice_to_index(slice_number, exam.pet.shape[2],
                                  'superior_first') == lesion.max_index[2]
    assert {'finding', 'background'} <= seen_kinds
    assert len(seen_kinds) >= 5


def test_build_writes_the_layout(tmp_path):
    root = str(tmp_path / 'pp')
    layout = build_phantom_pet(root, 'tiny', seed=1,
                               splits=dict(train=3, test=1))
    meta = layout.meta()
    assert meta['slice_convention'] == 'superior_first'
    assert meta['splits'] == dict(train=['train_0000', 'train_0001',
                                         'train_0002'], test=['test_0000'])
    reports = layout.reports()
    assert [reports[e]['tracer'] for e in meta['splits']['train']] == \
        ['FDG', 'DCFPyL', 'DOTATATE']
    pet, ct, spacing = layout.load_exam('train_0001')
    assert pet.shape == tuple(meta['shape']) and spacing == pytest.approx(
        tuple(meta['spacing_mm']), abs=1e-3)
    lesions = layout.load_label(layout.lesion_mask_path('train_0001'),
                                pet.shape)
    truth = [row for row in layout.ground_truth_sentences()
             if row['exam_id'] == 'train_0001']
    referenced = {row['lesion_id'] for row in truth if row['lesion_id']}
    assert referenced == set(np.unique(lesions)) - {0}
    with open(os.path.join(root, 'ground_truth', 'lesions.csv')) as f:
        assert len(list(csv.DictReader(f))) >= 4  # 4 exams, 1+ lesion each
    # The same seed rebuilds identical files.
    again = build_phantom_pet(str(tmp_path / 'again'), 'tiny', seed=1,
                              splits=dict(train=3, test=1))
    np.testing.assert_array_equal(again.load_exam('train_0001')[0], pet)
    assert again.reports() == reports


def test_layout_errors_name_the_file(tmp_path):
    from wsvision.datasets.io import DataError
    root = tmp_path / 'broken'
    root.mkdir()
    (root / 'dataset.json').write_text('{"splits": {}}')
    with pytest.raises(DataError, match=r"dataset\.json: missing key "
                       "'slice_convention'"):
        PETCTLayout(str(root)).meta()
    (root / 'reports.csv').write_text('exam_id,findings\nx,text\n')
    with pytest.raises(DataError, match=r"reports\.csv: missing column.*"
                       "'tracer'"):
        PETCTLayout(str(root)).reports()
    (root / 'reports.csv').write_text('exam_id,tracer,findings\n,FDG,t\n')
    with pytest.raises(DataError, match=r"reports\.csv line 2: empty value "
                       r"for \['exam_id'\]"):
        PETCTLayout(str(root)).reports()
