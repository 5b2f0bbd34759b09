"""Knowledge in context, LLM-KICK's other families: in-context retrieval (the same questions closed-book and with
an evidence passage), in-context summarization and instruction following. Pruned models tend to lose what they
know before they lose what they can read: closed-book accuracy falls faster than open-book accuracy.

No judge is needed here: summaries and answers are compared with the dense model's (agreement) or the reference
(ROUGE-L). Add `kick_judge` to a test and run with --kick-judge=<endpoint URL> --kick-judge-model=<name> to score
them with a judge instead."""

import pytest
from conftest import KNOWLEDGE_MAX_DROP

from pytest_kick import assert_generation_quality_within, assert_kick_accuracy_within

# On a 135M model 50% magnitude pruning wipes out open-book reading too; 30% shows LLM-KICK's pattern: closed-book
# accuracy falls much further than open-book accuracy (measured numbers in the README).
ICR_METHODS = pytest.mark.kick(methods=["rtn8", "magnitude30", "magnitude50"])


@ICR_METHODS
def test_closed_book_knowledge(kick_pair):
    assert_kick_accuracy_within(kick_pair, task="icr_qa", setting="closed", max_drop=KNOWLEDGE_MAX_DROP)


@ICR_METHODS
def test_open_book_retrieval(kick_pair):
    assert_kick_accuracy_within(kick_pair, task="icr_qa", setting="open", max_drop=KNOWLEDGE_MAX_DROP)


@ICR_METHODS
def test_knowledge_not_lost_faster_than_retrieval(kick_pair):
    # Per question: closed-book right minus open-book right. A drop means knowledge went while the ability to
    # read the answer from the passage stayed: LLM-KICK's signature of pruning.
    assert_generation_quality_within(kick_pair, "icr_qa", setting="gap", max_drop=KNOWLEDGE_MAX_DROP)


def test_summaries_agree_with_the_dense_model(kick_pair):
    assert_generation_quality_within(kick_pair, "summarization", scorer="agreement", max_drop=0.25, max_new_tokens=96)


def test_summaries_against_the_reference(kick_pair):
    # Same prompts as above: both models' summaries come from the per-example cache.
    assert_generation_quality_within(kick_pair, "summarization", scorer="rougeL", max_drop=0.05, max_new_tokens=96)


def test_instructions_answered_like_the_dense_model(kick_pair):
    assert_generation_quality_within(kick_pair, "instruction_following", scorer="agreement", max_drop=0.25, max_new_tokens=96)
