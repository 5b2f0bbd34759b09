"""A run report holding passing and failing results of every kind (the `report` fixture of test_report and test_html)."""

import pytest

from pytest_kick import (
    FakeRunner,
    KickRegression,
    ModelPair,
    assert_fidelity_within,
    assert_kick_accuracy_within,
    assert_no_bias_regression,
    get_task,
)
from pytest_kick.models.handles import BuildFacts
from pytest_kick.report.run import RunReport


def letters(answers):
    prompts = [e.prompt for e in get_task("mmlu").load(None)]
    return FakeRunner({p: answers[i % len(answers)] for i, p in enumerate(prompts)}, miss=-3.0)


def crows(tmp_path, n=60):
    folder = tmp_path / "crows_pairs"
    folder.mkdir()
    rows = "".join(f"{i},M{i},L{i},stereo,{'age' if i % 2 else 'gender'}\n" for i in range(n))
    (folder / "crows_pairs_anonymized.csv").write_text(",sent_more,sent_less,stereo_antistereo,bias_type\n" + rows)


def prefers(n, stereotyped):
    return FakeRunner(logprobs={**{f"M{i}": -1.0 if i < stereotyped else -2.0 for i in range(n)}, **{f"L{i}": -1.5 for i in range(n)}})


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A report holding passing and failing results of every kind, as the plugin's recorder builds it."""
    tmp = tmp_path_factory.mktemp("report")
    crows(tmp)
    golds = ["ABCD"[e.gold] for e in get_task("mmlu").load(None)]
    broken = ["A" if i % 3 == 0 else g for i, g in enumerate(golds)]
    run = RunReport()
    info = BuildFacts(method="rtn4", backend="builtin", build="compressed", compress_s=1.5)
    gates = [
        lambda p: assert_kick_accuracy_within(p, "mmlu", max_drop=0.05),
        lambda p: assert_fidelity_within(p, "mmlu", max_flip_rate=0.05, max_kl=0.01, min_top1_agreement=0.9),
    ]
    for dense, comp in ((golds, golds), (golds, broken)):
        for g in gates:
            pair = ModelPair(letters(dense), letters(comp), method="rtn4", recorder=lambda r: run.add(r, info))
            try:
                g(pair)
            except KickRegression:
                pass
    for comp in (30, 60):
        pair = ModelPair(prefers(60, 30), prefers(60, comp), method="rtn4", settings=_settings(tmp), recorder=run.add)
        try:
            assert_no_bias_regression(pair, "crows_pairs", tolerance=0.1, source="dir", reps=500)
        except KickRegression:
            pass
    assert {r.kind for r in run.results} == {"accuracy", "fidelity", "safety"} and len(run.results) == 6
    return run


def _settings(data_dir):
    from pytest_kick import EvalSettings

    return EvalSettings(data_dir=data_dir)
