"""--kick-html: one self-contained page with every gate's table, the moved examples and the plots, embedded."""

import base64
import io
import shutil
from html.parser import HTMLParser

import pytest
from gate_reports import report  # noqa: F401, F811 - the fixture

from pytest_kick.report.html import render

# Loaded at collection, before any in-process pytester run: those runs put sys.modules back as they found it, and a
# matplotlib half imported inside one would leave two copies of its classes behind.
pytest.importorskip("matplotlib.pyplot")


class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.tables, self.links = [], 0, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["src"])
        if tag == "table":
            self.tables += 1
        if tag in ("link", "script") or (tag == "img" and not attrs["src"].startswith("data:")):
            self.links.append(attrs)


def test_the_page_is_self_contained_with_a_plot_per_kind_of_gate(report):  # noqa: F811
    import matplotlib.image

    text = render(report, ["a comparison line"])
    page = Page()
    page.feed(text)
    assert page.links == []  # nothing to fetch: it opens offline
    assert page.tables == 3 and len(page.images) >= 3  # accuracy, fidelity, safety
    for src in page.images:
        png = base64.b64decode(src.removeprefix("data:image/png;base64,"), validate=True)
        assert png.startswith(b"\x89PNG") and matplotlib.image.imread(io.BytesIO(png), format="png").shape[0] > 50
    assert "a comparison line" in text and "FAIL" in text and "example(s)" in text


def images(text):
    page = Page()
    page.feed(text)
    assert page.links == []
    pngs = [base64.b64decode(src.removeprefix("data:image/png;base64,"), validate=True) for src in page.images]
    assert all(png.startswith(b"\x89PNG") for png in pngs)
    return pngs


def test_a_compare_run_plots_each_gate_across_the_saved_runs(report, tmp_path):  # noqa: F811
    from pytest_kick.report.baseline import Compared, SavedExample, SavedGate, SavedRun, write

    def gate(test, right):
        examples = tuple(SavedExample(f"q{i}", i < right, None, "") for i in range(10))
        return SavedGate(f"t.py::{test}", "accuracy", "mmlu", "rtn4", "m", 0.05, 0.05, examples)

    tests = [f"test_{i}" for i in range(13)]  # 13 gates: two figures of at most 12
    write(SavedRun("v1", "2025-01-01T00:00:00Z", gates=[gate(t, 9) for t in tests]), tmp_path)
    write(SavedRun("v2", "2025-02-01T00:00:00Z", gates=[gate(t, 8) for t in tests[:5]]), tmp_path)
    (tmp_path / "v3.json").write_text("[]")
    plain = render(report, ["a comparison line"])
    text = render(report, Compared(("a comparison line",), tmp_path, tuple(gate(t, 7) for t in tests)))
    assert "trend across saved runs" not in plain and "trend across saved runs" in text
    assert "v3.json left out of the trend" in text and "a comparison line" in text
    assert len(images(text)) == len(images(plain)) + 2
    alone = render(report, Compared((), tmp_path / "elsewhere", (gate("test_0", 7),)))
    assert "no gate of this run is in a saved run of" in alone and len(images(alone)) == len(images(plain))


def chromium():
    """A headless Chromium on this machine: Debian's chromium-headless-shell (or chromium). Playwright drives it;
    its own `playwright install chromium` downloads from a host this workplace cannot reach."""
    return next(filter(None, map(shutil.which, ("chromium-headless-shell", "chromium", "chromium-browser"))), None)


def test_the_page_renders_in_a_real_headless_browser(report, tmp_path):  # noqa: F811
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (drives the system's Chromium)")
    browser = chromium() or pytest.skip("no headless Chromium: apt-get install chromium-headless-shell")
    from pytest_kick.report.baseline import Compared, SavedExample, SavedGate, SavedRun, write

    gate = SavedGate("t.py::test_k", "accuracy", "mmlu", "rtn4", "m", 0.05, 0.05, (SavedExample("q0", True, None, ""),))
    write(SavedRun("v1", "2025-01-01T00:00:00Z", gates=[gate]), tmp_path)
    page_file = tmp_path / "kick.html"
    page_file.write_text(render(report, Compared(("a comparison line",), tmp_path, (gate,))), encoding="utf-8")
    expected = len(images(page_file.read_text(encoding="utf-8")))
    with sync_api.sync_playwright() as playwright:
        chrome = playwright.chromium.launch(executable_path=browser, args=["--no-sandbox"])
        try:
            tab = chrome.new_page()
            fetched, errors = [], []
            tab.on("request", lambda r: fetched.append(r.url))
            tab.on("pageerror", lambda e: errors.append(str(e)))
            tab.goto(page_file.as_uri(), wait_until="load")
            shown = tab.evaluate("() => Array.from(document.images, i => [i.complete, i.naturalWidth, i.naturalHeight])")
            title = tab.title()
        finally:
            chrome.close()
    assert title == "pytest-kick report" and errors == []
    assert [u for u in fetched if not u.startswith(("file:", "data:"))] == []  # nothing from a network
    assert expected >= 4 and len(shown) == expected  # accuracy, fidelity, safety, trend
    assert all(done and width > 100 and height > 50 for done, width, height in shown), shown


# ---- what the plots show: an outcome's colour and marker, one unit per axis -------------------------------------


def point_of(ax, y):
    """The outcome marker drawn at row `y` of an interval axis."""
    return next(line for line in ax.lines if line.get_marker() not in ("None", "", None) and list(line.get_ydata()) == [y])


def test_every_point_is_marked_by_its_outcome_and_a_missing_interval_is_said():
    import matplotlib.pyplot as plt

    from pytest_kick.gates.gate import Interval
    from pytest_kick.report.plots import OUTCOME_STYLE, interval_figure

    nan, inf = float("nan"), float("inf")
    rows = [
        Interval("a · within", 0.01, -0.02, 0.03, 0.1, "within", "bias: change Δ"),
        Interval("b · regressed", 0.3, 0.2, 0.4, 0.1, "regressed", "bias: change Δ"),
        Interval("c · inconclusive", 0.05, nan, nan, 0.1, "inconclusive", "bias: change Δ"),
        Interval("d · too few clusters", 0.02, -0.1, inf, 0.1, "inconclusive", "bias: change Δ"),
        Interval("e · ratio", 1.02, 0.99, 1.05, 1.1, "within", "perplexity: compressed / dense"),
    ]
    fig = interval_figure("safety", rows)
    try:
        bias, ratio = fig.axes
        assert (bias.get_xlabel(), ratio.get_xlabel()) == ("bias: change Δ", "perplexity: compressed / dense")
        for y, row in enumerate(rows[:4]):
            colour, marker, filled = OUTCOME_STYLE[row.outcome]
            line = point_of(bias, y)
            assert (line.get_marker(), line.get_color()) == (marker, colour)
            assert (line.get_markerfacecolor() == colour) == filled  # inconclusive: hollow, never a clean pass's dot
        said = {t.get_text() for t in bias.texts}
        assert said == {"no interval", "no upper bound"}
        assert [t.get_text() for t in bias.get_yticklabels()][2] == "c · inconclusive  [inconclusive]"
        legend = [t.get_text() for t in fig.legends[0].get_texts()]
        assert {"within", "regressed", "inconclusive", "allowed (limit)"} <= set(legend)
    finally:
        plt.close(fig)


def test_the_fidelity_plot_has_one_axis_per_unit(report):  # noqa: F811
    import matplotlib.pyplot as plt

    from pytest_kick.gates.fidelity import FidelityResult
    from pytest_kick.report.plots import interval_figure

    rows = [row for r in report.results if isinstance(r, FidelityResult) for row in r.intervals()]
    fig = interval_figure("fidelity", rows)
    try:
        labels = [ax.get_xlabel() for ax in fig.axes]
        assert labels == ["flip rate (share of examples)", "KL(dense ‖ compressed), nats", "top-1 agreement (share of examples)"]
        for ax in fig.axes:  # each axis holds its own metric only
            assert len({t.get_text().split("  [")[0] for t in ax.get_yticklabels()}) == 1
    finally:
        plt.close(fig)


def test_the_trend_marks_this_runs_point_by_its_gates_outcome_and_names_another_method(tmp_path):
    import matplotlib.pyplot as plt

    from pytest_kick.report.baseline import Compared, SavedExample, SavedGate, SavedRun, write
    from pytest_kick.report.plots import OUTCOME_STYLE, trend_figures
    from pytest_kick.report.trend import collect

    def gate(method, right):
        return SavedGate(
            "t.py::test_k",
            "accuracy",
            "mmlu",
            method,
            "m",
            0.05,
            0.05,
            tuple(SavedExample(f"q{i}", i < right, None, "") for i in range(10)),
        )

    write(SavedRun("v1", "2025-01-01T00:00:00Z", gates=[gate("rtn8", 9)]), tmp_path)
    trend = collect(Compared(("line",), tmp_path, (gate("rtn4", 6),)))
    (fig,) = trend_figures(trend, {("t.py::test_k", "mmlu", "rtn4"): "regressed"})
    try:
        ax = fig.axes[0]
        colour, marker, _ = OUTCOME_STYLE["regressed"]
        assert any(line.get_marker() == marker and line.get_color() == colour for line in ax.lines)
        assert [t.get_text() for t in ax.get_xticklabels()] == ["v1 (rtn8)", "this run"]
        assert "this run: regressed" in ax.get_title()
        assert "this run: inconclusive" in [t.get_text() for t in fig.legends[0].get_texts()]
    finally:
        plt.close(fig)


def test_the_page_names_no_absolute_path(report, tmp_path):  # noqa: F811
    import re

    from pytest_kick.report.baseline import Compared, SavedExample, SavedGate

    folder = tmp_path / "project" / ".kick"
    folder.mkdir(parents=True)
    (folder / "broken.json").write_text("{")
    (folder / "other.json").write_text("[]")
    gate = SavedGate("t.py::test_k", "accuracy", "mmlu", "rtn4", "m", 0.05, 0.05, (SavedExample("q0", True, None, ""),))
    line = f"t.py::test_k [mmlu] rtn4 vs v1's rtn4: saved at {folder}/v1.json (0 unmatched): within pass"
    for root in (tmp_path / "project", None):  # the plugin's root dir, or (a plain call) the working directory
        text = render(report, Compared((line,), folder, (gate,), None, root))
        words = re.sub(r"src='data:[^']*'", "", text)  # base64 holds '/' too
        assert "broken.json left out of the trend" in words and "not JSON" in words
        if root is not None:
            assert str(tmp_path) not in words and "saved at .kick/v1.json" in words
            assert "no gate of this run is in a saved run of .kick (" in words
            assert re.search(r"(?<![\w.])/(tmp|home|root|work|usr|var)/", words) is None, words
        else:  # outside the working directory: a name, never the full path
            assert "no gate of this run is in a saved run of .kick (" in words


LONG_LINES = (  # what --kick-compare prints for long test ids: the verdict words come last
    "tests/integration/quantization/test_release_candidates.py::test_recall_on_every_benchmark_we_ship [freebaseqa] "
    "gptq4-w4a16-g128 vs release-2024.12.1-candidate's gptq4-w4a16-g128: 0.812 -> 0.655 (Δ -0.157, lower bound -0.201, "
    "allowed drop 0.05) on 3680 matched examples (0 unmatched): regressed FAIL; lost: FreebaseQA-eval/0, "
    "FreebaseQA-eval/17, FreebaseQA-eval/233, FreebaseQA-eval/1024, FreebaseQA-eval/3001 …; scope: benchmark (all 3680)",
    "tests/integration/safety/test_bias_and_toxicity_after_pruning.py::test_no_bias_regression_on_bbq [bbq] wanda-2:4 vs "
    "release-2024.12.1-candidate's wanda-2:4: worst Race_ethnicity ambiguous_bias 0.012 -> 0.031 (change +0.019, bound +0.044, "
    "allowed 0.02) on 5000 matched examples (12 unmatched): inconclusive FAIL "
    "[NOTE: the saved run was made from model 'SmolLM2-135M-Instruct', this run from 'SmolLM2-360M-Instruct']",
    "t.py::test_k [mmlu] rtn8 vs v1's rtn8: 0.700 -> 0.700 (Δ +0.000, lower bound +0.000, allowed drop 0.1) on 40 matched "
    "examples (0 unmatched): within pass; scope: benchmark (all 40)",
)
# every verdict word (class "verdict"): its rectangle, its box's (the table cell or comparison line) and the page's width
LAYOUT = """() => Array.from(document.querySelectorAll('.verdict'), el => {
  const r = el.getBoundingClientRect(), b = el.closest('li, td').getBoundingClientRect();
  return {word: el.textContent, box: el.closest('li, td').tagName, rects: el.getClientRects().length,
          r: [r.left, r.right, r.top, r.bottom], b: [b.left, b.right, b.top, b.bottom],
          width: document.documentElement.clientWidth, scroll: document.documentElement.scrollWidth};
})"""


def screenshot_paths(tmp_path, width):
    """The test's own copy, and with KICK_SCREENSHOT_DIR set (e.g. test-output, git-ignored) one a note can cite."""
    import os
    from pathlib import Path

    name = f"html-layout-{width}.png"
    stable = os.environ.get("KICK_SCREENSHOT_DIR")
    return [tmp_path / name] + ([Path(stable) / name] if stable else [])


@pytest.mark.parametrize("width", [1280, 800])
def test_every_verdict_word_lies_inside_its_box_and_the_window(report, tmp_path, width):  # noqa: F811
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (drives the system's Chromium)")
    browser = chromium() or pytest.skip("no headless Chromium: apt-get install chromium-headless-shell")
    page_file = tmp_path / "kick.html"
    page_file.write_text(render(report, LONG_LINES), encoding="utf-8")
    shots = screenshot_paths(tmp_path, width)
    with sync_api.sync_playwright() as playwright:
        chrome = playwright.chromium.launch(executable_path=browser, args=["--no-sandbox"])
        try:
            tab = chrome.new_page(viewport={"width": width, "height": 800})
            tab.goto(page_file.as_uri(), wait_until="load")
            words = tab.evaluate(LAYOUT)
            lines = tab.evaluate("() => Array.from(document.querySelectorAll('.lines li'), li => li.getClientRects()[0].height)")
            for shot in shots:
                shot.parent.mkdir(parents=True, exist_ok=True)
                tab.screenshot(path=str(shot), full_page=True)
        finally:
            chrome.close()
    found = {w["word"] for w in words}
    assert {"pass", "FAIL", "within", "regressed", "inconclusive"} <= found, found
    assert sum(w["box"] == "LI" for w in words) == 2 * len(LONG_LINES)  # each line's outcome and verdict
    assert max(lines) > 3 * 16, lines  # the long lines wrap (over three lines of text), nothing scrolls sideways
    for w in words:
        (left, right, top, bottom), (b_left, b_right, b_top, b_bottom) = w["r"], w["b"]
        assert w["rects"] == 1, w  # one piece: never broken inside the word
        assert b_left - 0.5 <= left and right <= b_right + 0.5 and b_top - 0.5 <= top and bottom <= b_bottom + 0.5, w
        assert 0 <= left and right <= w["width"], w
    assert words[0]["scroll"] <= words[0]["width"], words[0]  # the page itself is no wider than the window
    assert all(shot.read_bytes().startswith(b"\x89PNG") for shot in shots)
