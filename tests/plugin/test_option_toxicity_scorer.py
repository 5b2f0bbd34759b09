"""--kick-toxicity-scorer: a bad value stops pytest at start-up with the valid forms."""

from conftest import assert_usage_error


def test_bad_value(pytester):
    assert_usage_error(pytester, ["--kick-toxicity-scorer=no/such/dir"], "--kick-toxicity-scorer no/such/dir: not a directory")


def test_an_ini_path_is_read_from_the_ini_files_folder(pytester, monkeypatch):
    """kick_toxicity_scorer = scorer in project/pytest.ini names project/scorer, wherever pytest starts."""
    import json

    project = pytester.mkdir("project")
    (project / "scorer").mkdir()
    (project / "scorer" / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))
    (project / "pytest.ini").write_text("[pytest]\nkick_toxicity_scorer = scorer\n")
    (project / "test_x.py").write_text("def test_x(): pass\n")
    elsewhere = pytester.mkdir("elsewhere")
    monkeypatch.chdir(elsewhere)
    result = pytester.runpytest("-c", str(project / "pytest.ini"), str(project))
    # found (relative to the ini file, not to where pytest started), then refused for what it is
    result.stderr.fnmatch_lines(["*project/scorer is not a sequence-classification model*"])
