"""Reading PET/CT report sentences: splitting, background filter, slice and
SUV mentions, and the leak guard that strips them before text encoding.

Every pattern here has bounded repetition only (no nested or open-ended
quantifiers around optional parts), so matching stays linear in the length
of the text even on adversarial input.
"""
import re
from dataclasses import dataclass
from typing import List, Tuple

# After ``clean_text``, sentences end at . ! or ? (or those closing a
# parenthesis) followed by one space and a capital letter or an opening
# parenthesis (decimal points, as in "6.3", are never followed by a space),
# or at a line break.
_SENTENCE_BREAK = re.compile(r'(?:(?<=[.!?])|(?<=[.!?]\))) (?=[A-Z(])|\n')

_BACKGROUND = re.compile(
    r'\b(?:background|reference)\s{1,3}(?:liver|hepatic|mediastin[a-z]{0,6}|'
    r'blood[\s-]pool)\b'
    r'|\bblood[\s-]pool\b'
    r'|\b(?:liver|hepatic|mediastinal)\s{1,3}(?:background|reference)\b',
    re.IGNORECASE)

_NUMBER_LIST_SEP = r'\s{0,2}(?:,|and|to|through|-|\u2013)\s{0,2}'
_SLICE = re.compile(
    r'\b(?:axial\s{1,3})?(?:slices?|images?)\b[\s:#=]{0,3}'
    r'(?:(?:no\.?|number)\s{0,2})?'
    r'(?P<numbers>\d{1,4}(?:' + _NUMBER_LIST_SEP + r'\d{1,4}){0,8})(?!\d|\.\d)',
    re.IGNORECASE)

_SUV = re.compile(
    r'\b(?:max(?:imum)?\s{1,3})?SUV\s{0,2}(?:_?(?:max|mean|peak))?\b'
    r'[\s:=,]{0,3}'
    r'(?:(?:of|was|is|measuring|approximately|about|up\s{1,3}to|~)\s{1,3}){0,2}'
    r'[\s:=~]{0,2}(?P<value>\d{1,3}(?:\.\d{1,2})?)(?!\d|\.\d)',
    re.IGNORECASE)

_PREVIOUS = re.compile(r'\b(?:previous(?:ly)?|prior)\b', re.IGNORECASE)
# A prior value written without its own "SUV" ("(previously 4.2)").
_PREVIOUS_VALUE = re.compile(
    r'\b(?:previous(?:ly)?|prior)\b[\s:,]{0,3}(?:\d{1,3}(?:\.\d{1,2})?)',
    re.IGNORECASE)
# How far before an SUV keyword "previously" may stand to mark it as prior.
_PRIOR_WINDOW = 24
# Words that only introduce a removed mention ("with an SUVmax of 6.3",
# "on axial image 87"); the leak guard removes them with the mention.
_LEAD_IN = r'(?:\b(?:with|and|on|at|of|in)\s{1,3})?(?:\b(?:an?|the)\s{1,3})?'
_LEAK_PATTERNS = (re.compile(_LEAD_IN + _SLICE.pattern, re.IGNORECASE),
                  re.compile(_LEAD_IN + _SUV.pattern, re.IGNORECASE),
                  _PREVIOUS_VALUE)
_CLEANUP = (
    (re.compile(r'\(\s{0,8}[,;:]?\s{0,8}\)'), ''),   # emptied parentheses
    (re.compile(r'\s{0,8}([,;:])(?:\s{0,8}[,;:]){1,8}'), r'\1'),
    (re.compile(r'[,;:]\s{0,8}(?=[.)]|$)'), ''),    # dangling separators
    (re.compile(r'^\s{0,8}[,;:]\s{0,8}'), ''),
    (re.compile(r'\(\s{1,8}'), '('),
    (re.compile(r'\s{1,8}([.,;:)])'), r'\1'),
    (re.compile(r'\s{2,}'), ' '),
)


@dataclass(frozen=True)
class SuvMention:
    value: float
    is_prior: bool  # a previous study's value ("previously SUV 4.2")


@dataclass(frozen=True)
class Mentions:
    """Everything the rules need from one sentence."""
    slices: Tuple[int, ...]        # distinct slice numbers, in order
    suvs: Tuple[SuvMention, ...]   # every SUV value, in order
    says_previous: bool


def clean_text(text: str) -> str:
    """Unify white space and dashes; keep line breaks as sentence breaks."""
    text = text.replace('\r\n', '\n').replace('\r', '\n')
    text = re.sub(r'[ \t\u00a0]+', ' ', text)
    return text.replace('\u2212', '-').strip()


def split_sentences(text: str) -> List[str]:
    """Split a findings section into sentences (decimals stay intact)."""
    return [s.strip() for s in _SENTENCE_BREAK.split(clean_text(text))
            if s and s.strip()]


def is_background_sentence(sentence: str) -> bool:
    """True for reference-uptake sentences ("Background liver SUVmax 2.1")."""
    return _BACKGROUND.search(sentence) is not None


def find_mentions(sentence: str) -> Mentions:
    """Slice numbers and SUV values as the first number after each keyword."""
    slices: List[int] = []
    for match in _SLICE.finditer(sentence):
        for number in re.findall(r'\d{1,4}', match.group('numbers')):
            if int(number) not in slices:
                slices.append(int(number))
    suvs = []
    previous_end = 0
    for match in _SUV.finditer(sentence):
        window_start = max(previous_end, match.start() - _PRIOR_WINDOW)
        before = sentence[window_start:match.start()]
        suvs.append(SuvMention(float(match.group('value')),
                               _PREVIOUS.search(before) is not None))
        previous_end = match.end()
    return Mentions(tuple(slices), tuple(suvs),
                    _PREVIOUS.search(sentence) is not None)


def strip_slice_and_suv(sentence: str) -> str:
    """The leak guard: the sentence without its slice and SUV strings.

    The model must find the lesion from the description, not from numbers
    that name its location and intensity outright.
    """
    text = sentence
    for pattern in _LEAK_PATTERNS:
        text = pattern.sub(' ', text)
    for pattern, replacement in _CLEANUP:
        text = pattern.sub(replacement, text)
    return text.strip()
