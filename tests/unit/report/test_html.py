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
