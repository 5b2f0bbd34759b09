import pytest

from pytest_kick import (
    AccuracyRegression,
    EvalSettings,
    FakeRunner,
    KickUsageError,
    Limit,
    ModelPair,
    assert_kick_accuracy_within,
    get_task,
)


def letters(answers, data_dir=None):
    """A scripted runner that answers the i-th MMLU question with answers[i] (no model)."""
    prompts = [e.prompt for e in get_task("mmlu").load(data_dir)]
    return FakeRunner({p: answers[i % len(answers)] for i, p in enumerate(prompts)}, miss=-3.0)


def pair(dense, comp, data_dir=None, limit=None):
    recorded = []
    p = ModelPair(
        letters(dense, data_dir),
        letters(comp, data_dir),
        method="rtn4",
        settings=EvalSettings(data_dir=data_dir, limit=Limit(limit, "--kick-limit") if limit else None),
        recorder=recorded.append,
    )
    return p, recorded


def gold_letters():
    return ["ABCD"[e.gold] for e in get_task("mmlu").load(None)]


def test_identical_models_pass_and_are_recorded():
    golds = gold_letters()
    p, recorded = pair(golds, golds)
    r = assert_kick_accuracy_within(p, "mmlu", max_drop=0.05)
    assert r.passed and r.n == len(golds) and r.dense_acc == 1.0 and r.right_to_wrong == 0
    assert recorded == [r]


def test_a_real_drop_fails_with_table_flips_and_hint():
    golds = gold_letters()
    broken = ["A" if i % 3 == 0 else g for i, g in enumerate(golds)]  # every third answer becomes 'A'
    p, recorded = pair(golds, broken)
    with pytest.raises(AccuracyRegression) as err:
        assert_kick_accuracy_within(p, "mmlu", max_drop=0.05)
    msg = str(err.value)
    r = err.value.result
    assert not r.passed and r.right_to_wrong == sum(1 for i, g in enumerate(golds) if i % 3 == 0 and g != "A")
    assert "allowed drop" in msg and f"examples that flipped right→wrong (5 of {r.right_to_wrong})" in msg
    assert "This gate would pass with max_drop >" in msg and recorded[0] is r


def test_too_few_examples_says_how_many_are_needed():
    golds = gold_letters()
    slightly = ["A" if i in (1, 5) and g != "A" else g for i, g in enumerate(golds)]
    p, _ = pair(golds, slightly, limit=20)
    with pytest.raises(AccuracyRegression, match=r"about \d+ would give an 80% chance of passing \(raise --kick-limit"):
        assert_kick_accuracy_within(p, "mmlu", max_drop=0.1)


def test_relative_margin_scales_with_dense_accuracy():
    golds = gold_letters()
    half = [g if i % 2 else "Z" for i, g in enumerate(golds)]  # dense right on about half
    p, _ = pair(half, half)
    r = assert_kick_accuracy_within(p, "mmlu", max_drop=0.2, relative=True)
    assert r.allowed_drop == pytest.approx(0.2 * r.dense_acc)


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"max_drop": -0.1}, "max_drop"),
        ({"max_drop": 2}, "max_drop"),
        ({"max_drop": 0.1, "alpha": 0}, "alpha"),
        ({"max_drop": 0.1, "limit": 0}, "limit"),
    ],
)
def test_bad_arguments(kwargs, needle):
    p, _ = pair(["A"], ["A"])
    with pytest.raises(KickUsageError, match=needle):
        assert_kick_accuracy_within(p, "mmlu", **kwargs)


def test_empty_task_after_filtering(tmp_path):
    for split in ("dev", "test"):
        (tmp_path / "mmlu" / split).mkdir(parents=True)
        (tmp_path / "mmlu" / split / f"empty_{split}.csv").write_text("")
    p, _ = pair(["A"], ["A"], data_dir=tmp_path)
    with pytest.raises(KickUsageError, match="no examples after filtering"):
        assert_kick_accuracy_within(p, "mmlu", max_drop=0.1)


def test_a_user_gates_two_scripted_runners_through_the_public_api_only():
    """What the README's 'testing your own task' section promises: no model, no plugin, public names only."""
    import pytest_kick as kick

    questions = [e for e in kick.get_task("freebaseqa").load(None)]
    right = {e.prompt: e.answers[0] for e in questions}
    wrong_half = {e.prompt: (e.answers[0] if i % 2 else "no idea") for i, e in enumerate(questions)}
    same = kick.ModelPair(kick.FakeRunner(right), kick.FakeRunner(dict(right)), method="rtn4")
    assert kick.assert_kick_accuracy_within(same, task="freebaseqa", max_drop=0.1).passed
    worse = kick.ModelPair(kick.FakeRunner(right), kick.FakeRunner(wrong_half), method="rtn4")
    with pytest.raises(kick.AccuracyRegression) as err:
        kick.assert_kick_accuracy_within(worse, task="freebaseqa", max_drop=0.1)
    assert err.value.result.right_to_wrong == len(questions) // 2


def test_the_hint_names_the_knob_that_set_the_limit():
    golds = gold_letters()
    slightly = ["A" if i in (1, 5) and g != "A" else g for i, g in enumerate(golds)]
    p, _ = pair(golds, slightly)
    p.settings = EvalSettings(limit=Limit(20, "kick_limit in pyproject.toml"))
    with pytest.raises(AccuracyRegression, match=r"\(raise kick_limit in pyproject.toml\)"):
        assert_kick_accuracy_within(p, "mmlu", max_drop=0.1)
    with pytest.raises(AccuracyRegression, match=r"\(raise the assertion's limit= argument\)"):
        assert_kick_accuracy_within(p, "mmlu", max_drop=0.1, limit=20)
    with pytest.raises(AccuracyRegression, match=r"\(more than the task's \d+: a wider allowance, or scope='benchmark'"):
        assert_kick_accuracy_within(p, "mmlu", max_drop=0.02, limit=len(golds) + 5, scope="items")
    # over every item of the benchmark the observed drop decides: 2 of the questions lost is within 0.1, beyond 0.02
    assert assert_kick_accuracy_within(p, "mmlu", max_drop=0.1, limit=len(golds) + 5).summary()["scope"] == f"benchmark (all {len(golds)})"
    with pytest.raises(AccuracyRegression, match="regressed"):
        assert_kick_accuracy_within(p, "mmlu", max_drop=0.01, limit=len(golds) + 5)
