import pytest

from pytest_kick import AccuracyRegression, KickUsageError, assert_kick_accuracy_within
from pytest_kick.compression import parse_spec
from pytest_kick.engine import LoglikelihoodResult
from pytest_kick.models import ModelHandle, ModelPair


class Letters:
    """A runner that answers MMLU with a fixed letter per question index (no model)."""

    def __init__(self, answers):
        self.answers = answers

    def loglikelihood(self, requests):
        out = []
        for k, r in enumerate(requests):
            q = k // 4
            out.append(LoglikelihoodResult(0.0 if r.continuation.strip() == self.answers[q % len(self.answers)] else -3.0, False))
        return out


def pair(dense, comp, data_dir=None, limit=None):
    unused = ModelHandle(name="never loaded", fingerprint="x", _loader=lambda: pytest.fail("model must not load"))
    p = ModelPair(dense=unused, compressed=unused, method=parse_spec("rtn4"), data_dir=data_dir, limit=limit)
    p._runners.update(dense=Letters(dense), compressed=Letters(comp))
    recorded = []
    p.recorder = recorded.append
    return p, recorded


def gold_letters():
    from pytest_kick.tasks import get_task

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
    with pytest.raises(AccuracyRegression, match=r"about \d+ would be needed \(raise --kick-limit"):
        assert_kick_accuracy_within(p, "mmlu", max_drop=0.1)


def test_relative_margin_scales_with_dense_accuracy():
    golds = gold_letters()
    half = [g if i % 2 else "Z" for i, g in enumerate(golds)]  # dense right on about half
    p, _ = pair(half, half)
    r = assert_kick_accuracy_within(p, "mmlu", max_drop=0.2, relative=True)
    assert r.allowed_drop == pytest.approx(0.2 * r.dense_acc)


@pytest.mark.parametrize("kwargs, needle", [({"max_drop": -0.1}, "max_drop"), ({"max_drop": 2}, "max_drop"),
                                            ({"max_drop": 0.1, "alpha": 0}, "alpha"), ({"max_drop": 0.1, "limit": 0}, "limit")])
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
