import pytest

from pytest_kick.compression import BnbSpec, NamedSpec, PruneSpec, QuantSpec, RTNSpec, compression_method, parse_spec, parse_specs
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
        ("gptq4", QuantSpec("gptq", bits=4)),
        ("gptq3-g64", QuantSpec("gptq", bits=3, group_size=64)),
        ("gptq4-g128-act", QuantSpec("gptq", bits=4, group_size=128, act_order="act")),
        ("gptq4-g32-static", QuantSpec("gptq", bits=4, group_size=32, act_order="static")),
        ("gptq8", QuantSpec("gptq", bits=8)),
        ("gptq4-static", QuantSpec("gptq", bits=4, act_order="static")),
        ("awq4", QuantSpec("awq", bits=4)),
        ("wanda50", PruneSpec("wanda", sparsity=0.5)),
        ("wanda-2:4", PruneSpec("wanda", n=2, m=4)),
        ("sparsegpt60", PruneSpec("sparsegpt", sparsity=0.6)),
        ("sparsegpt-4:8", PruneSpec("sparsegpt", n=4, m=8)),
        ("int8", BnbSpec("int8")),
        ("nf4", BnbSpec("nf4")),
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
        ("gptq17", "gptq supports 2, 3, 4, 8 bits"),
        ("gptq1", "gptq supports 2, 3, 4, 8 bits, got 1"),
        ("gptq4-g0", "power of two"),
        ("awq2", "awq supports 3, 4, 8 bits"),
        ("awq4-static", "GPTQ option"),
        ("gptq4-desc", "expected gptq<bits>[-g<group size>][-act|-static]"),
        ("nf4-g64", "'nf4' takes no parameters"),
        ("sparsegpt100", "strictly between 0 and 100"),
        ("magnitude150", "strictly between 0 and 100"),
        ("magnitude0", "strictly between 0 and 100"),
        ("wanda-3:2", "0 < N < M"),
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


def test_ids_of_new_families_round_trip():
    text = "gptq4,gptq3-g64,gptq4-g128-act,awq4,wanda-2:4,sparsegpt60,int8,nf4"
    assert ",".join(s.id for s in parse_specs(text)) == text


def test_a_team_method_registered_by_decorator_parses(request):
    from pytest_kick import compression

    request.addfinalizer(compression.FAMILIES.reset)

    @compression_method("jitter", examples=("jitter0.1",))
    def jitter(model, spec, ctx):  # pragma: no cover - not run here
        pass

    assert parse_spec("jitter0.1") == NamedSpec("jitter", "0.1")
    assert parse_spec("jitter") == NamedSpec("jitter", "")
    with pytest.raises(KickUsageError, match="jitter0.1"):
        parse_spec("jitter 0.1")


def test_registering_a_taken_name_needs_replace_and_a_reset_forgets_it(request):
    from pytest_kick import compression

    request.addfinalizer(compression.FAMILIES.reset)
    with pytest.raises(KickUsageError, match="'rtn' is already registered.*replace=True"):
        compression_method("rtn")(lambda model, spec, ctx: None)
    compression_method("rtn", replace=True)(lambda model, spec, ctx: None)
    assert parse_spec("rtn").family == "rtn" and compression.resolve_backend(parse_spec("rtn")).name == "custom"
    compression.FAMILIES.reset()
    assert parse_spec("rtn4").id == "rtn4" and compression.resolve_backend(parse_spec("rtn4")).name == "builtin"
    with pytest.raises(KickUsageError, match="lower-case"):
        compression.register_family("Bad-Name", compression.parse_named("x"), lambda m, s: None, ())
