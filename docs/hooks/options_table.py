"""MkDocs hook: the options reference is generated from the option table the plugin registers with pytest, so the
page can never list an option pytest does not know, or miss one it does."""

from __future__ import annotations

MARKER = "<!-- kick:options -->"


def options_markdown() -> str:
    from pytest_kick.session.optiontable import OPTIONS

    rows = ["| option | ini | meaning |", "|---|---|---|"]
    for o in OPTIONS:
        text = o.help.replace("|", "\\|") + (" (a switch)" if o.kind == "flag" else "")
        rows.append(f"| `{o.flag}` | `{o.ini}` | {text} |")
    return "\n".join(rows)


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ARG001 - MkDocs' hook signature
    return markdown.replace(MARKER, options_markdown()) if MARKER in markdown else markdown
