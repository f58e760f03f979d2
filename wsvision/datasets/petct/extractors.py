"""Reading the slice number and SUV of one report sentence (pipeline steps 2-4).

Extractors are registered in ``WEAK_LABELERS`` so that a config chooses one:

- ``RuleBasedExtractor`` (the default): the bounded regexes and the count
  rules of the paper.
- ``PromptedLLMExtractor``: asks a user-supplied language model for JSON.
- ``VotingExtractor``: k-of-n agreement over any extractors, as the reference
  does with three LLMs and 2-of-3 voting.
"""
import importlib
import json
import re
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Optional, Sequence, Union

from ...registry import WEAK_LABELERS
from .report_text import find_mentions


@dataclass(frozen=True)
class Extraction:
    """The slice and current SUV read from a sentence, or why there are none."""
    slice_number: Optional[int] = None
    suv: Optional[float] = None
    drop_reason: Optional[str] = None

    @property
    def kept(self) -> bool:
        return self.drop_reason is None

    @classmethod
    def dropped(cls, reason: str) -> 'Extraction':
        return cls(drop_reason=reason)


class SliceSuvExtractor(ABC):
    """Maps one sentence to an ``Extraction``."""

    @abstractmethod
    def extract(self, sentence: str) -> Extraction:
        """Read the slice number and current SUV of ``sentence``."""


def build_extractor(cfg=None) -> SliceSuvExtractor:
    """An extractor from a config dict; ``None`` gives the rule-based one."""
    if cfg is None:
        return RuleBasedExtractor()
    if isinstance(cfg, SliceSuvExtractor):
        return cfg
    return WEAK_LABELERS.build(cfg)


@WEAK_LABELERS.register_module()
class RuleBasedExtractor(SliceSuvExtractor):
    """The paper's rules over the regex mentions.

    - The sentence must name a slice and an SUV (step 2).
    - More than one slice, or more than two SUVs, drops it (step 3).
    - Two SUVs are kept only when the sentence says "previous(ly)"; the
      SUV not marked as the prior value is the current one (step 3).
    """

    def extract(self, sentence: str) -> Extraction:
        mentions = find_mentions(sentence)
        if not mentions.slices and not mentions.suvs:
            return Extraction.dropped('no_slice_no_suv')
        if not mentions.slices:
            return Extraction.dropped('no_slice')
        if not mentions.suvs:
            return Extraction.dropped('no_suv')
        if len(mentions.slices) > 1:
            return Extraction.dropped('multiple_slices')
        if len(mentions.suvs) > 2:
            return Extraction.dropped('more_than_two_suvs')
        if len(mentions.suvs) == 2 and not mentions.says_previous:
            return Extraction.dropped('two_suvs_without_previous')
        current = [m for m in mentions.suvs if not m.is_prior]
        if len(current) != 1:
            return Extraction.dropped('ambiguous_previous_suv')
        return Extraction(mentions.slices[0], current[0].value)


DEFAULT_LLM_PROMPT = (
    'Read this sentence from a PET/CT report. Reply with one JSON object '
    '{"slice": <integer or null>, "suv": <number or null>}: the axial slice '
    'number of the lesion and its current SUV. Use null when the sentence '
    'does not name exactly one slice or one current SUV.\n'
    'Sentence: {sentence}')

_JSON_OBJECT = re.compile(r'\{[^{}]{0,400}\}')


def _resolve_callable(generate: Union[str, Callable[[str], str]]):
    if callable(generate):
        return generate
    module_name, sep, attr = str(generate).partition(':')
    if not sep:
        raise ValueError(f'generate={generate!r}: expected a callable or an '
                         "import path 'package.module:function'")
    function = getattr(importlib.import_module(module_name), attr, None)
    if not callable(function):
        raise ValueError(f'generate={generate!r}: {module_name} has no '
                         f'callable {attr!r}')
    return function


@WEAK_LABELERS.register_module()
class PromptedLLMExtractor(SliceSuvExtractor):
    """A language model that answers a prompt with ``{"slice", "suv"}`` JSON.

    Args:
        generate: ``prompt -> reply`` callable, or its import path
            ``'package.module:function'`` (for configs).
        prompt: template with a ``{sentence}`` placeholder.
    """

    def __init__(self, generate: Union[str, Callable[[str], str]],
                 prompt: str = DEFAULT_LLM_PROMPT):
        if '{sentence}' not in prompt:
            raise ValueError('prompt must contain the placeholder {sentence}')
        self.generate = _resolve_callable(generate)
        self.prompt = prompt

    def extract(self, sentence: str) -> Extraction:
        reply = self.generate(self.prompt.replace('{sentence}', sentence))
        match = _JSON_OBJECT.search(str(reply))
        try:
            answer = json.loads(match.group(0)) if match else None
        except json.JSONDecodeError:
            answer = None
        if not isinstance(answer, dict):
            return Extraction.dropped('unreadable_llm_reply')
        slice_number, suv = answer.get('slice'), answer.get('suv')
        if slice_number is None or suv is None:
            return Extraction.dropped('llm_found_no_single_slice_and_suv')
        try:
            return Extraction(int(slice_number), float(suv))
        except (TypeError, ValueError):
            return Extraction.dropped('unreadable_llm_reply')


@WEAK_LABELERS.register_module()
class VotingExtractor(SliceSuvExtractor):
    """Keeps the (slice, SUV) pair that ``min_votes`` extractors agree on.

    Args:
        extractors: extractor configs or instances (the n voters).
        min_votes: k, the agreement needed.
    """

    def __init__(self, extractors: Sequence, min_votes: int = 2):
        self.extractors = [build_extractor(cfg) for cfg in extractors]
        if not 1 <= min_votes <= len(self.extractors):
            raise ValueError(f'min_votes must be in 1..{len(self.extractors)}, '
                             f'got {min_votes}')
        self.min_votes = min_votes

    def extract(self, sentence: str) -> Extraction:
        votes = Counter()
        for extractor in self.extractors:
            result = extractor.extract(sentence)
            if result.kept:
                votes[(result.slice_number, result.suv)] += 1
        if votes:
            (slice_number, suv), count = votes.most_common(1)[0]
            if count >= self.min_votes:
                return Extraction(slice_number, suv)
        return Extraction.dropped('no_agreement')
