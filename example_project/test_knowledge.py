"""Knowledge gates in the spirit of LLM-KICK: factoid recall and multiple-choice reasoning.

Each test runs once per compression method in `kick_method` (test ids like `[rtn4]`). With no
--kick-data-dir the built-in general-knowledge samples are used; with --kick-data-dir=../shared/data
the real FreebaseQA and MMLU files are."""

from conftest import KNOWLEDGE_MAX_DROP, REASONING_MAX_DROP

from pytest_kick import assert_kick_accuracy_within


def test_factoid_knowledge(kick_pair):
    assert_kick_accuracy_within(kick_pair, task="freebaseqa", max_drop=KNOWLEDGE_MAX_DROP)


def test_multiple_choice_reasoning(kick_pair):
    assert_kick_accuracy_within(kick_pair, task="mmlu", max_drop=REASONING_MAX_DROP)
