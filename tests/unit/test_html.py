"""--kick-html: one self-contained page with every gate's table, the moved examples and the plots, embedded."""

import base64
import io
from html.parser import HTMLParser

import pytest
from gate_reports import report  # noqa: F401, F811 - the fixture

from pytest_kick.html import render

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
