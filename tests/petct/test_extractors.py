"""The pluggable slice/SUV extractors: registry, LLM prompt, k-of-n vote."""
import pytest

from wsvision.datasets.petct.extractors import (Extraction,
                                                PromptedLLMExtractor,
                                                RuleBasedExtractor,
                                                VotingExtractor,
                                                build_extractor)
from wsvision.registry import WEAK_LABELERS

SENTENCE = 'Right upper lobe nodule (slice 87), SUV max 6.3.'


def canned_llm(reply):
    prompts = []

    def generate(prompt):
        prompts.append(prompt)
        return reply
    generate.prompts = prompts
    return generate


def test_default_extractor_is_rule_based():
    assert isinstance(build_extractor(None), RuleBasedExtractor)
    assert isinstance(WEAK_LABELERS.build(dict(type='RuleBasedExtractor')),
                      RuleBasedExtractor)


def test_llm_extractor_sends_the_sentence_and_parses_json():
    llm = canned_llm('Sure. {"slice": 87, "suv": 6.3} Hope this helps.')
    extractor = PromptedLLMExtractor(llm)
    assert extractor.extract(SENTENCE) == Extraction(87, 6.3)
    assert SENTENCE in llm.prompts[0]


@pytest.mark.parametrize('reply,reason', [
    ('no JSON here', 'unreadable_llm_reply'),
    ('{"slice": "eighty", "suv": 6.3}', 'unreadable_llm_reply'),
    ('{"slice": null, "suv": 6.3}', 'llm_found_no_single_slice_and_suv'),
    ('{"slice": 87,}', 'unreadable_llm_reply'),
])
def test_llm_extractor_drops_unusable_replies(reply, reason):
    assert PromptedLLMExtractor(canned_llm(reply)).extract(SENTENCE) == \
        Extraction.dropped(reason)


def test_llm_extractor_resolves_an_import_path():
    extractor = PromptedLLMExtractor('json:dumps')
    assert extractor.generate('x') == '"x"'
    with pytest.raises(ValueError, match='import path'):
        PromptedLLMExtractor('json.dumps')
    with pytest.raises(ValueError, match='no callable'):
        PromptedLLMExtractor('json:not_there')
    with pytest.raises(ValueError, match='placeholder'):
        PromptedLLMExtractor(canned_llm(''), prompt='no placeholder')


def test_two_of_three_voting():
    agree = canned_llm('{"slice": 87, "suv": 6.3}')
    disagree = canned_llm('{"slice": 88, "suv": 6.3}')
    votes = VotingExtractor([dict(type='RuleBasedExtractor'),
                             PromptedLLMExtractor(agree),
                             PromptedLLMExtractor(disagree)], min_votes=2)
    assert votes.extract(SENTENCE) == Extraction(87, 6.3)
    # The rule-based voter drops a two-slice sentence; the LLMs split.
    two_slices = 'Node (slice 40 and slice 42) with SUV max 5.2.'
    assert votes.extract(two_slices) == Extraction.dropped('no_agreement')
    unanimous = VotingExtractor([PromptedLLMExtractor(agree)] * 3,
                                min_votes=3)
    assert unanimous.extract(two_slices) == Extraction(87, 6.3)


def test_voting_checks_k():
    with pytest.raises(ValueError, match='min_votes'):
        VotingExtractor([dict(type='RuleBasedExtractor')], min_votes=2)
