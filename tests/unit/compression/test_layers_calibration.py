import pytest

from pytest_kick.compression import Calibration, LayerSelection
from pytest_kick.compression.calibration import BUILTIN_TEXT, calibration_windows
from pytest_kick.compression.layers import target_linears
from pytest_kick.errors import KickUsageError


@pytest.fixture(scope="module")
def model():
    from pytest_kick.testing import tiny_llama

    return tiny_llama(256, layers=4, seed=0)


def names(model, **kw):
    return [n for n, _ in target_linears(model, LayerSelection(**kw))]


def test_default_is_every_block_linear_but_not_the_head(model):
    got = names(model)
    assert len(got) == 4 * 7 and "lm_head" not in got


@pytest.mark.parametrize(
    "targets, expected",
    [(("mlp",), 3 * 4), (("q_proj", "v_proj"), 2 * 4), (("self_attn.*_proj",), 4 * 4), (("model.layers.0.*",), 7)],
)
def test_patterns_select_modules(model, targets, expected):
    assert len(names(model, targets=targets)) == expected


def test_skipping_first_and_last_blocks(model):
    got = names(model, skip_first=1, skip_last=2)
    assert {n.split(".")[2] for n in got} == {"1"}


def test_selection_errors_say_what_is_wrong(model):
    with pytest.raises(KickUsageError, match="'ffn' matches no linear layer"):
        names(model, targets=("ffn",))
    with pytest.raises(KickUsageError, match="leave none of the model's 4 blocks"):
        names(model, skip_first=2, skip_last=2)


class WordTokenizer:
    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [hash(w) % 1000 for w in text.split()]}


def test_windows_are_seeded_and_sized(tmp_path):
    cal = Calibration(samples=5, seqlen=16, source=str(BUILTIN_TEXT))
    a = calibration_windows(WordTokenizer(), cal, None, seed=1)
    assert len(a) == 5 and all(len(w) == 16 for w in a)
    assert a == calibration_windows(WordTokenizer(), cal, None, seed=1)
    assert a != calibration_windows(WordTokenizer(), cal, None, seed=2)


def test_calibration_sources_and_their_errors(tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("only a few words here")
    with pytest.raises(KickUsageError, match="has 5 tokens, not more than one window"):
        calibration_windows(WordTokenizer(), Calibration(2, 16, str(short)), None, 0)
    wt = tmp_path / "wikitext-2-raw"
    wt.mkdir()
    (wt / "wiki.test.raw").write_text(" = Title = \n words " * 40)
    assert Calibration(source="wikitext2").resolve(tmp_path) == wt / "wiki.test.raw"
    (wt / "wiki.train.raw").write_text("train words " * 40)
    assert Calibration(source="wikitext2").resolve(tmp_path) == wt / "wiki.train.raw"
    with pytest.raises(KickUsageError, match="neither wiki.train.raw nor wiki.test.raw"):
        Calibration(source="wikitext2").resolve(tmp_path / "nothing")
    key = Calibration(source="wikitext2").key(tmp_path)
    assert key["sha256"] and key["samples"] == 128


def test_builtin_text_is_long_enough_for_the_example_settings():
    from pytest_kick.testing import build_tokenizer

    text = BUILTIN_TEXT.read_text()
    assert len(text.split()) > 1000
    tok = build_tokenizer([text], vocab_size=400)
    assert len(calibration_windows(tok, Calibration(32, 256), None, 0)) == 32
