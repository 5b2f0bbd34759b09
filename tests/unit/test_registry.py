import pytest

from pytest_kick.errors import KickUsageError
from pytest_kick.registry import Registry


def test_add_refuses_a_taken_name_unless_asked_and_reset_restores_built_ins():
    reg = Registry[str]("widget")
    reg.add("alpha", "built-in", builtin=True)
    reg.add("beta", "team's")
    with pytest.raises(KickUsageError, match="a widget named 'alpha' is already registered.*replace=True"):
        reg.add("alpha", "other")
    reg.add("alpha", "replaced", replace=True)
    assert reg.get("alpha") == "replaced" and reg.names() == ["alpha", "beta"]
    reg.reset()
    assert reg.get("alpha") == "built-in" and "beta" not in reg and reg.get("beta") is None


def test_did_you_mean():
    reg = Registry[int]("widget")
    reg.add("gamma", 1, builtin=True)
    assert reg.did_you_mean("gama") == " Did you mean 'gamma'?" and reg.did_you_mean("zzz") == ""


def test_snapshot_and_restore_nest_sessions():
    reg = Registry[str]("widget")
    reg.add("outer", "o")
    saved = reg.snapshot()
    reg.reset()
    reg.add("inner", "i")
    reg.restore(saved)
    assert list(reg) == ["outer"]


def test_did_you_mean_names_the_closest_choice_in_the_callers_form():
    from pytest_kick.registry import did_you_mean

    assert did_you_mean("limt", ["limit", "methods"], "{}=") == " Did you mean limit=?"
    assert did_you_mean("mmul", ["mmlu", "bbq"]) == " Did you mean 'mmlu'?"
    assert did_you_mean("zzz", ["mmlu"]) == ""
