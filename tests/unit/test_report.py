"""The typed run report: every gate kind round-trips through JSON, the JSON validates against the committed,
versioned schema, and that schema is the one derived from the result types."""

import json
import math
from pathlib import Path

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
from pytest_kick.report import SCHEMA_VERSION, RunReport, json_schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "pytest_kick" / "report.schema.json"


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
    info = {"method": "rtn4", "backend": "builtin", "build": "compressed", "compress_s": 1.5}
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


def test_the_json_validates_against_the_committed_schema(report):
    jsonschema = pytest.importorskip("jsonschema")
    data = json.loads(json.dumps(report.to_json(), allow_nan=False))  # strict JSON: NaN is written as null
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(data, schema, cls=jsonschema.Draft202012Validator)
    broken = json.loads(json.dumps(data))
    broken["results"][0]["n"] = "many"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema, cls=jsonschema.Draft202012Validator)


def test_round_trip_into_the_typed_report(report):
    data = json.loads(json.dumps(report.to_json(), allow_nan=False))
    back = RunReport.from_json(data)
    assert back.to_json() == data
    assert [type(r) for r in back.results] == [type(r) for r in report.results]
    assert back.lines() == report.lines()
    for a, b in zip(back.results, report.results):
        assert a.passed == b.passed and a.outcomes() == b.outcomes() and a.explain() == b.explain()
    safety = next(r for r in back.results if r.kind == "safety")
    assert all(isinstance(c.p_holm, float) and math.isnan(c.p_holm) for c in safety.checks)  # null read back as NaN
    assert back.models["rtn4"].compress_s == 1.5


def test_every_result_has_outcomes_rows_and_a_summary(report):
    for r in report.results:
        assert set(r.outcomes().values()) <= {"within", "inconclusive", "regressed"}
        assert r.rows() and r.summary()["verdict"] == r.verdict
        assert r.passed == all(o == "within" for o in r.outcomes().values())


def test_the_committed_schema_is_the_derived_one():
    assert json.loads(SCHEMA_FILE.read_text()) == json_schema(), (
        "the result types changed: bump report.SCHEMA_VERSION and regenerate the schema with "
        "python -m pytest_kick.report > pytest_kick/report.schema.json"
    )


def test_other_versions_and_kinds_are_refused(report):
    data = report.to_json()
    with pytest.raises(ValueError, match=f"version {SCHEMA_VERSION}"):
        RunReport.from_json({**data, "version": SCHEMA_VERSION + 1})
    with pytest.raises(ValueError, match="unknown result kind 'judge'"):
        RunReport.from_json({**data, "results": [{"kind": "judge"}]})
    with pytest.raises(ValueError, match="unknown field"):
        RunReport.from_json({**data, "results": [{**data["results"][0], "surprise": 1}]})
