"""The typed run report: every gate kind round-trips through JSON, the JSON validates against the committed,
versioned schema, and that schema is the one derived from the result types."""

import json
import math
from pathlib import Path

import pytest
from gate_reports import report  # noqa: F401, F811 - the fixture

from pytest_kick.report.run import SCHEMA_VERSION, RunReport, json_schema

SCHEMA_FILE = Path(__file__).resolve().parents[3] / "pytest_kick" / "report" / "report.schema.json"


def test_the_json_validates_against_the_committed_schema(report):  # noqa: F811
    jsonschema = pytest.importorskip("jsonschema")
    data = json.loads(json.dumps(report.to_json(), allow_nan=False))  # strict JSON: NaN is written as null
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(data, schema, cls=jsonschema.Draft202012Validator)
    broken = json.loads(json.dumps(data))
    broken["results"][0]["n"] = "many"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema, cls=jsonschema.Draft202012Validator)


def test_round_trip_into_the_typed_report(report):  # noqa: F811
    data = json.loads(json.dumps(report.to_json(), allow_nan=False))
    back = RunReport.from_json(data)
    assert back.to_json() == data
    assert [type(r) for r in back.results] == [type(r) for r in report.results]
    assert back.lines() == report.lines()
    for a, b in zip(back.results, report.results):
        assert a.passed == b.passed and a.outcomes() == b.outcomes() and a.explain() == b.explain()
    safety = next(r for r in back.results if r.kind == "safety")
    assert [c.p_holm for c in safety.checks] == [c.p_holm for c in next(r for r in report.results if r.kind == "safety").checks]
    assert isinstance(back.models["rtn4"].params_vs_dense, float) and math.isnan(back.models["rtn4"].params_vs_dense)  # null -> NaN
    assert back.models["rtn4"].compress_s == 1.5


def test_every_result_has_outcomes_rows_and_a_summary(report):  # noqa: F811
    for r in report.results:
        assert set(r.outcomes().values()) <= {"within", "inconclusive", "regressed"}
        assert r.rows() and r.summary()["verdict"] == r.verdict
        assert r.passed == all(o == "within" for o in r.outcomes().values())


def test_the_committed_schema_is_the_derived_one():
    assert json.loads(SCHEMA_FILE.read_text()) == json_schema(), (
        "the result types changed: bump report.SCHEMA_VERSION and regenerate the schema with "
        "python -m pytest_kick.report.run > pytest_kick/report/report.schema.json"
    )


def test_other_versions_and_kinds_are_refused(report):  # noqa: F811
    data = report.to_json()
    with pytest.raises(ValueError, match=f"version {SCHEMA_VERSION}"):
        RunReport.from_json({**data, "version": SCHEMA_VERSION + 1})
    with pytest.raises(ValueError, match="unknown result kind 'judge'"):
        RunReport.from_json({**data, "results": [{"kind": "judge"}]})
    with pytest.raises(ValueError, match="unknown field"):
        RunReport.from_json({**data, "results": [{**data["results"][0], "surprise": 1}]})
