import pytest

from pytest_kick.tasks.metrics import argmax, exact_match, normalize_answer


@pytest.mark.parametrize(
    "text, norm",
    [("The Eiffel Tower.", "eiffel tower"), ("  São  Paulo ", "sao paulo"), ("J. K. Rowling", "j k rowling"), ("", "")],
)
def test_normalize(text, norm):
    assert normalize_answer(text) == norm


def test_exact_match_uses_first_line_and_any_answer():
    assert exact_match(" Paris.\nQuestion: next", ("paris",))
    assert exact_match("the Nile", ("Congo", "nile"))
    assert not exact_match("Paris, France", ("paris",))
    assert not exact_match("\n", ("",))


def test_argmax_breaks_ties_to_the_first():
    assert argmax([1.0, 3.0, 3.0]) == 1


def test_per_example_cuts_a_batch_back_into_each_examples_results():
    from pytest_kick.tasks.metrics import per_example

    assert per_example(list("abcdef"), [2, 3, 1]) == [["a", "b"], ["c", "d", "e"], ["f"]]
    with pytest.raises(ValueError, match="6 results for 5 requests"):
        per_example(list("abcdef"), [2, 3])


def test_an_option_of_several_values_takes_one_string_or_a_list():
    from pytest_kick.tasks import get_task

    assert get_task("bbq", categories="Age").categories == ("Age",)
    assert get_task("crows_pairs", bias_types=["gender", "age"]).bias_types == ("gender", "age")
    assert get_task("mmlu").subjects is None
