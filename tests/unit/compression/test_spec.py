import pytest

from pytest_kick.compression import PruneSpec, RTNSpec, parse_spec, parse_specs
from pytest_kick.errors import KickUsageError


@pytest.mark.parametrize(
    "text, spec",
    [
        ("rtn8", RTNSpec(bits=8)),
        ("rtn4", RTNSpec(bits=4)),
        ("rtn4-g128", RTNSpec(bits=4, group_size=128)),
        ("magnitude50", PruneSpec("magnitude", sparsity=0.5)),
        ("magnitude12.5", PruneSpec("magnitude", sparsity=0.125)),
        ("magnitude-2:4", PruneSpec("magnitude", n=2, m=4)),
        (" RTN8 ", RTNSpec(bits=8)),
    ],
)
def test_valid_specs_parse_to_frozen_dataclasses(text, spec):
    assert parse_spec(text) == spec
    assert parse_spec(spec.id) == spec  # the id is itself a valid spec


def test_ids_are_canonical():
    assert [s.id for s in parse_specs("rtn4-g128,magnitude50,magnitude-2:4")] == ["rtn4-g128", "magnitude50", "magnitude-2:4"]


def test_duplicates_are_dropped_in_order():
    assert [s.id for s in parse_specs("rtn8, magnitude50,rtn8")] == ["rtn8", "magnitude50"]


@pytest.mark.parametrize(
    "text, needle",
    [
        ("gptq17", "'gptq' is not available"),
        ("magnitude150", "strictly between 0 and 100"),
        ("magnitude0", "strictly between 0 and 100"),
        ("wanda-3:2", "'wanda' is not available"),
        ("magnitude-3:2", "0 < N < M"),
        ("rtn1", "between 2 and 8"),
        ("rtn4-g100", "power of two"),
        ("rtm4", "Did you mean 'rtn'"),
        ("magnitud50", "Did you mean 'magnitude'"),
        ("", "empty"),
    ],
)
def test_bad_specs_name_the_cause_and_the_valid_forms(text, needle):
    with pytest.raises(KickUsageError) as err:
        parse_specs(text)
    assert needle in str(err.value)
    if text:
        assert "rtn4-g128" in str(err.value) and "magnitude-2:4" in str(err.value)
