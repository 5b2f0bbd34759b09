"""--kick-html on the example project: its own files (conftest, pyproject, every test module), run as a user would
but on the tiny random model with the built-in samples, saved as a release and then compared with it. The page is
one well-formed, self-contained file whose plots (at least three, the trend across releases among them) are PNGs."""

import base64
import io
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "example_project"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

pytestmark = pytest.mark.slow  # the example project's 22 gates on a real (tiny) model, twice: about 30 s


class Page(HTMLParser):
    """Well-formedness (every element closed in order), the images, and anything a browser would fetch."""

    def __init__(self):
        super().__init__()
        self.open, self.problems, self.images, self.fetched, self.captions = [], [], [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs.get("src", ""))
            self.captions.append(attrs.get("alt", ""))
        outside = [v for k, v in attrs.items() if k in ("src", "href") and not (v or "").startswith(("data:", "#"))]
        if tag in ("link", "script", "iframe", "object") or outside:
            self.fetched.append((tag, attrs))
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag):
        if not self.open or self.open[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.open[-1:] or 'nothing'}")
        else:
            self.open.pop()


def test_kick_html_on_the_example_project_writes_one_page_with_its_plots(pytester, random_model_dir, tmp_path_factory):
    image = pytest.importorskip("matplotlib.image")
    for path in EXAMPLE.iterdir():
        if path.is_file() and path.suffix in (".py", ".toml"):
            shutil.copy(path, pytester.path / path.name)
    cache = tmp_path_factory.mktemp("kick-cache")
    args = (f"--kick-model={random_model_dir}", f"--kick-cache-dir={cache}", "--kick-device=cpu", "--kick-method=rtn8")
    args += ("--kick-limit=8", "-p", "no:hypothesispytest", "-p", "no:anyio")  # the markers' own limits still apply
    release = pytester.runpytest_subprocess(*args, "--kick-save=v1")
    assert release.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED), release.stdout.str()
    result = pytester.runpytest_subprocess(*args, "--kick-compare=v1", "--kick-html=out/kick.html")
    outcomes = result.parseoutcomes()  # a random model fails some gates by design: what matters is that all ran
    assert "errors" not in outcomes and outcomes.get("passed", 0) + outcomes.get("failed", 0) >= 20, result.stdout.str()
    result.stdout.fnmatch_lines(["*pytest-kick comparison with 'v1'*", "pytest-kick HTML report: */out/kick.html"])

    text = (pytester.path / "out" / "kick.html").read_text(encoding="utf-8")
    page = Page()
    page.feed(text)
    page.close()
    assert text.startswith("<!DOCTYPE html>") and page.problems == [] and page.open == []
    assert page.fetched == [] and "http://" not in text and "https://" not in text  # opens offline
    gates = int(re.search(r"<p>(\d+) gate\(s\)", text).group(1))
    assert gates == outcomes.get("passed", 0) + outcomes.get("failed", 0)  # every test's gate is on the page
    assert len(page.images) >= 3
    for src in page.images:
        png = base64.b64decode(src.removeprefix("data:image/png;base64,"), validate=True)
        height, width = image.imread(io.BytesIO(png), format="png").shape[:2]
        assert png.startswith(b"\x89PNG") and height > 100 and width > 100
    kinds = [caption.split(":")[0] for caption in page.captions]
    assert {"Accuracy", "Generation quality", "Safety", "Trend"} <= set(kinds), kinds
