"""PhantomPET findings sections, written from varied sentence templates.

Each lesion gets one sentence. Most name its slice and SUV in one of many
forms; the rest are the distractors the rule-based extractor must handle:
two slices, two SUVs, "previously SUV x, now y", no slice. Every report also
has background-uptake sentences and may have a negative finding. SUVs are the
values measured on the final PET, rounded to 0.1 as a reader reports them,
and slice numbers follow the data set's slice convention.
"""
from dataclasses import dataclass
from typing import List

import numpy as np

from .phantom import PhantomExam
from .slices import index_to_slice

#: Lesion sentence kinds and how often each is drawn.
LESION_SENTENCE_KINDS = {
    'finding': 0.68, 'previously': 0.10, 'two_slices': 0.08,
    'no_slice': 0.08, 'two_suvs': 0.06}

_TEMPLATES = {
    'finding': (
        '{Finding} (slice {s}), SUV max {v}.',
        'There is {a_avid} {finding} with an SUVmax of {v} on axial image {s}.',
        '{Avid} {finding}, SUVmax {v}, slice {s}.',
        'Intense {tracer} uptake in a {finding} (image {s}; SUV max {v}).',
        '{Avid} {finding} measuring {size} mm with SUV {v} (slice {s}).',
        'Slice {s}: {finding} demonstrating uptake with SUVmax of {v}.',
        'Focal uptake in a {finding} on slice {s}, SUVmax = {v}.',
        '{Finding} with maximum SUV of {v} (axial image {s}).',
    ),
    'previously': (
        '{Finding} (slice {s}), previously SUV {old}, now SUV max {v}.',
        '{Finding} on image {s} with SUVmax {v} (previously {old}).',
        '{Finding}, slice {s}, SUVmax {v}, previously SUVmax {old}.',
    ),
    'two_slices': (
        '{Finding} spanning slices {s1} to {s2}, SUVmax {v}.',
        '{Finding} (slice {s1} and slice {s2}) with SUV max {v}.',
    ),
    'two_suvs': (
        '{Finding} (slice {s}) with SUVmax {v} and SUVmean {mean}.',
        '{Finding} on axial image {s}, SUV max {v}, SUV mean {mean}.',
    ),
    'no_slice': (
        '{Finding} with SUVmax {v}.',
        'Mildly {avid} {finding}, SUV {v}.',
    ),
}
_BACKGROUND_TEMPLATES = (
    'Background liver SUVmax {liver}.',
    'Mediastinal blood pool SUV {blood}.',
    'Reference liver activity with SUVmean of {liver} (slice {s}).',
    'Liver background SUV max {liver}.',
)
_NEGATIVE_TEMPLATES = (
    'No suspicious uptake in the spleen.',
    'Physiologic {tracer} activity in the kidneys and urinary bladder.',
    'No hypermetabolic lesion in the thyroid.',
)


@dataclass(frozen=True)
class ReportSentence:
    text: str
    lesion_id: int   # the lesion it refers to, 0 for none
    kind: str        # a key of LESION_SENTENCE_KINDS, 'background', 'negative'


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def _lesion_sentence(rng, exam: PhantomExam, lesion,
                     convention: str) -> ReportSentence:
    kinds = list(LESION_SENTENCE_KINDS)
    kind = kinds[rng.choice(len(kinds), p=list(LESION_SENTENCE_KINDS.values()))]
    num_slices = exam.pet.shape[2]
    z_range = np.flatnonzero(lesion.mask.any(axis=(0, 1)))
    first, last = (index_to_slice(int(z), num_slices, convention)
                   for z in (z_range[0], z_range[-1]))
    if first == last:  # a one-slice lesion still gets two distinct numbers
        last = first + 1 if first < num_slices else first - 1
    suv = round(lesion.suv_max, 1)
    old = round(suv * rng.choice([rng.uniform(0.4, 0.8),
                                  rng.uniform(1.25, 1.6)]), 1)
    finding = str(rng.choice(lesion.site.phrases))
    avid = exam.tracer.avid
    template = str(rng.choice(_TEMPLATES[kind]))
    text = template.format(
        Finding=_capitalise(finding), finding=finding, Avid=_capitalise(avid),
        avid=avid, a_avid=f'{exam.tracer.article} {avid}',
        tracer=exam.tracer.name,
        s=index_to_slice(lesion.max_index[2], num_slices, convention),
        s1=min(first, last), s2=max(first, last), v=f'{suv:.1f}',
        old=f'{old:.1f}', mean=f'{lesion.suv_mean:.1f}',
        size=int(round(2 * lesion.radius_mm)))
    return ReportSentence(text, lesion.lesion_id, kind)


def write_findings(rng: np.random.Generator, exam: PhantomExam,
                   convention: str) -> List[ReportSentence]:
    """The findings section of ``exam``: background sentences first, then the
    lesion and negative sentences in random order."""
    num_slices = exam.pet.shape[2]
    values = dict(liver=f'{exam.reference_suv["liver"]:.1f}',
                  blood=f'{exam.reference_suv["blood_pool"]:.1f}',
                  tracer=exam.tracer.name,
                  s=int(rng.integers(1, num_slices + 1)))
    n_background = int(rng.integers(1, 3))
    background = [ReportSentence(t.format(**values), 0, 'background')
                  for t in rng.choice(_BACKGROUND_TEMPLATES, n_background,
                                      replace=False)]
    body = [_lesion_sentence(rng, exam, lesion, convention)
            for lesion in exam.lesions]
    if rng.random() < 0.5:
        body.append(ReportSentence(
            str(rng.choice(_NEGATIVE_TEMPLATES)).format(**values), 0,
            'negative'))
    order = rng.permutation(len(body))
    return background + [body[i] for i in order]
