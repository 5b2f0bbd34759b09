"""Shared fixtures: tiny models built here (random and fact-trained) and the optional ../shared/data."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
N_FACTS = 40


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real benchmark files not found at {SHARED_DATA} (../shared/data is only on the team's machines)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def random_model_dir(tmp_path_factory) -> Path:
    from pytest_kick.testing import made_up_facts, save_random_model

    corpus = [f"Question: {q}\nAnswer: {a}\n" for q, a in made_up_facts(50, seed=3)]
    return save_random_model(tmp_path_factory.mktemp("random-llama"), corpus)


@pytest.fixture(scope="session")
def fact_setup(tmp_path_factory) -> tuple[Path, Path]:
    """(model dir, data dir): a tiny Llama that recalls N_FACTS made-up facts, and those facts as FreebaseQA."""
    from pytest_kick.testing import made_up_facts, train_fact_model, write_freebaseqa

    facts = made_up_facts(N_FACTS, seed=1)
    model_dir = tmp_path_factory.mktemp("fact-llama")
    acc = train_fact_model(model_dir, facts)
    assert acc >= 0.95, f"the fact model did not learn its facts (teacher-forced accuracy {acc:.2f})"
    data_dir = tmp_path_factory.mktemp("fact-data")
    write_freebaseqa(data_dir, facts)
    return model_dir, data_dir
