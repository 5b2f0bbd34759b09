"""The front page and the manual as a user reads them: every Python block is Python, the extending guide's task
and its FakeRunner test run as written, and every `pytest` command names only options that exist, with values
their parsers accept. (The test files they show run on a real tiny model in tests/plugin/test_docs_examples.py.)"""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path

import pytest

from pytest_kick.session.options import PARSERS, Value
from pytest_kick.session.optiontable import OPTIONS

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Options whose value is a path, a URL or a model: their form is checked where the file is (tests/plugin).
PATHS = {"kick_model", "kick_compressed", "kick_data_dir", "kick_cache_dir", "kick_calib_data", "kick_toxicity_scorer"}
PATHS |= {"kick_judge", "kick_judge_prompt", "kick_html", "kick_report", "kick_save", "kick_compare", "kick_ray"}


def blocks(page: Path, lang: str) -> list[str]:
    """The fenced code blocks of a page whose language is `lang` ("" for a plain fence)."""
    out, current, fence = [], None, ""
    for line in page.read_text().splitlines():
        if current is None and line.startswith("```"):
            current, fence = [], line[3:].strip()
        elif current is not None and line.startswith("```"):
            if fence == lang:
                out.append("\n".join(current) + "\n")
            current = None
        elif current is not None:
            current.append(line)
    return out


def commands() -> list[tuple[str, str]]:
    """(page, command) for every line of a plain code block that runs pytest."""
    out = []
    for page in PAGES:
        for block in blocks(page, ""):
            for line in block.splitlines():
                line = line.split("  #", 1)[0].strip()
                if re.match(r"^(\S+/)?pytest\b", line) or line.startswith("cd ") and " pytest " in line:
                    out.append((page.name, line[line.index("pytest") :]))
    return out


def test_the_front_page_stays_a_front_page():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_python_block_is_python(page):
    for block in blocks(page, "python"):
        ast.parse(block, filename=str(page))


def test_the_pages_show_commands_to_check():
    assert len(commands()) >= 5


@pytest.mark.parametrize("page,command", commands(), ids=[f"{p}:{c[:60]}" for p, c in commands()])
def test_every_kick_option_in_a_command_exists_and_parses(page, command):
    flags = {o.flag: o for o in OPTIONS}
    for word in shlex.split(command):
        if not word.startswith("--kick-"):
            continue
        flag, _, text = word.partition("=")
        assert flag in flags, f"{page}: {flag} is not an option of pytest-kick ({command})"
        option = flags[flag]
        if option.kind == "flag" or option.ini in PATHS:
            continue
        PARSERS[option.ini](Value(text, origin=flag))  # a usage error names the option


def test_the_extending_guides_task_and_its_fakerunner_test_run_as_written(request):
    from pytest_kick.tasks import TASKS

    request.addfinalizer(TASKS.reset)
    guide = ROOT / "docs" / "extending.md"
    task = next(b for b in blocks(guide, "python") if '@register_task("capitals")' in b)
    check = next(b for b in blocks(guide, "python") if "def test_my_task_catches_a_forgetful_model" in b)
    namespace: dict = {}
    exec(compile(task + "\n" + check, str(guide), "exec"), namespace)
    namespace["test_my_task_catches_a_forgetful_model"]()
    assert "pytest_kick." not in task.replace("from pytest_kick import", "") + check.replace("from pytest_kick import", "")
