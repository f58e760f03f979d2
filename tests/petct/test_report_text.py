"""Sentence splitting, background filter, regex extraction, leak guard."""
import time

import pytest

from wsvision.datasets.petct.extractors import RuleBasedExtractor
from wsvision.datasets.petct.report_text import (find_mentions,
                                                 is_background_sentence,
                                                 split_sentences,
                                                 strip_slice_and_suv)

# (sentence, expected slice, expected SUV, or the reason it is dropped)
SENTENCES = [
    # The forms PhantomPET writes, and more real-report phrasings.
    ('Right upper lobe nodule (slice 87), SUV max 6.3.', 87, 6.3, None),
    ('There is an FDG-avid node in the liver with an SUVmax of 6.3 on axial '
     'image 87.', 87, 6.3, None),
    ('PSMA-avid left axillary node, SUVmax 12.4, slice 9.', 9, 12.4, None),
    ('Intense DCFPyL uptake in a right external iliac lymph node (image 55; '
     'SUV max 14.2).', 55, 14.2, None),
    ('Fluciclovine-avid node measuring 22 mm with SUV 5.5 (slice 12).',
     12, 5.5, None),
    ('Slice 40: node in the right axilla demonstrating uptake with SUVmax of '
     '12.3.', 40, 12.3, None),
    ('Focal uptake in a lumbar spine lesion on slice 31, SUVmax = 7.0.',
     31, 7.0, None),
    ('Mediastinal lymph node with maximum SUV of 4.4 (axial image 20).',
     20, 4.4, None),
    ('Left hepatic lobe lesion, SUV max: 9.15, slice no. 33.', 33, 9.15,
     None),
    ('lesion in the T8 vertebral body (SLICE 120) suvmax 3', 120, 3.0, None),
    # "previously": one slice, prior and current SUV -> the current one.
    ('Nodule in the left lower lobe (slice 30), previously SUV 4.2, now SUV '
     'max 6.8.', 30, 6.8, None),
    ('Right hepatic lobe lesion on image 12 with SUVmax 6.8 (previously '
     '4.2).', 12, 6.8, None),
    ('Subcarinal node, slice 14, SUVmax 5.1, previously SUVmax 9.9.', 14,
     5.1, None),
    # Distractors.
    ('Background liver SUVmax 2.4.', None, None, 'background'),
    ('Mediastinal blood pool SUV 1.8.', None, None, 'background'),
    ('Reference liver activity with SUVmean of 2.1 (slice 40).', None, None,
     'background'),
    ('Liver background SUV max 2.2.', None, None, 'background'),
    ('Lesion in the T8 vertebral body spanning slices 40 to 42, SUVmax 5.1.',
     None, None, 'multiple_slices'),
    ('Left iliac node (slice 40 and slice 42) with SUV max 5.2.', None, None,
     'multiple_slices'),
    ('Node (slice 33) with SUVmax 4.1 and SUVmean 2.9.', None, None,
     'two_suvs_without_previous'),
    ('Node on image 33, SUV max 4.1, SUV mean 2.9, SUV peak 3.3.', None,
     None, 'more_than_two_suvs'),
    ('Mild uptake in the left inguinal node, SUV 3.1.', None, None,
     'no_slice'),
    ('Right axillary node on slice 40.', None, None, 'no_suv'),
    ('No suspicious uptake in the spleen.', None, None, 'no_slice_no_suv'),
    ('Physiologic FDG activity in the kidneys and urinary bladder.', None,
     None, 'no_slice_no_suv'),
]


def decide(sentence):
    if is_background_sentence(sentence):
        return None, None, 'background'
    extraction = RuleBasedExtractor().extract(sentence)
    return extraction.slice_number, extraction.suv, extraction.drop_reason


@pytest.mark.parametrize('sentence,slice_number,suv,reason', SENTENCES)
def test_rule_based_extraction(sentence, slice_number, suv, reason):
    assert decide(sentence) == (slice_number, suv, reason)


def test_low_suv_is_extracted_for_the_pipeline_to_drop():
    # The SUV >= 2.5 cut is step 5 of the pipeline, after extraction.
    assert decide('Faint uptake in a right lower lobe nodule (slice 12), '
                  'SUVmax 1.9.') == (12, 1.9, None)


def test_uptake_above_background_is_not_a_background_sentence():
    assert not is_background_sentence(
        'Right axillary node with uptake above background (slice 4), SUV 3.')


def test_malformed_numbers_are_not_read():
    mentions = find_mentions('SUV 6.345 on slice 87.5, slice 12.')
    assert mentions.slices == (12,)
    assert mentions.suvs == ()


def test_split_sentences_keeps_decimals_and_parentheses():
    text = ('Background liver SUVmax 2.4. Node (slice 33) with SUVmax 4.1.  '
            '(Note: stable.) Lesion, SUV 6.3!\nNew line without a stop')
    assert split_sentences(text) == [
        'Background liver SUVmax 2.4.', 'Node (slice 33) with SUVmax 4.1.',
        '(Note: stable.)', 'Lesion, SUV 6.3!', 'New line without a stop']


@pytest.mark.parametrize('sentence,expected', [
    ('Right upper lobe nodule (slice 87), SUV max 6.3.',
     'Right upper lobe nodule.'),
    ('There is an FDG-avid node in the liver with an SUVmax of 6.3 on axial '
     'image 87.', 'There is an FDG-avid node in the liver.'),
    ('Intense DCFPyL uptake in a right external iliac lymph node (image 55; '
     'SUV max 14.2).',
     'Intense DCFPyL uptake in a right external iliac lymph node.'),
    ('Right hepatic lobe lesion on image 12 with SUVmax 6.8 (previously '
     '4.2).', 'Right hepatic lobe lesion.'),
    ('Fluciclovine-avid node measuring 22 mm with SUV 5.5 (slice 12).',
     'Fluciclovine-avid node measuring 22 mm.'),
])
def test_leak_guard_removes_slice_and_suv(sentence, expected):
    assert strip_slice_and_suv(sentence) == expected


@pytest.mark.parametrize('sentence', [s for s, *_ in SENTENCES])
def test_leak_guard_leaves_no_slice_or_suv_mention(sentence):
    stripped = strip_slice_and_suv(sentence)
    mentions = find_mentions(stripped)
    assert mentions.slices == () and mentions.suvs == ()
    for word in ('slice', 'suv', 'image'):
        assert word not in stripped.lower()


ADVERSARIAL = [
    'slice ' * 10000,
    'SUV' + ' ' * 100000 + '1',
    'slice 1 and 2 and ' * 5000,
    '1.' * 50000,
    '(' * 50000 + ')' * 50000,
    'SUV max of of of of ' * 5000 + 'x',
    'with an ' * 10000,
    ', ; :' * 10000 + ')',
    'previously ' * 10000,
    'background ' * 10000 + 'liver',
    'SUVmax' * 15000,
    'axial   ' * 15000 + 'image',
]


@pytest.mark.parametrize('text', ADVERSARIAL,
                         ids=[f'adversarial{i}'
                              for i in range(len(ADVERSARIAL))])
def test_regexes_stay_linear_on_adversarial_text(text):
    start = time.perf_counter()
    find_mentions(text)
    strip_slice_and_suv(text)
    split_sentences(text)
    is_background_sentence(text)
    # Each input is 50-150 k characters; backtracking would take minutes.
    assert time.perf_counter() - start < 2.0
