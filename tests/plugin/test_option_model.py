"""--kick-model: a model directory, a .gguf file, a hub id or the built-in alias."""

from conftest import assert_usage_error


def test_missing_path(pytester):
    assert_usage_error(pytester, ["--kick-model=./no/such/model"], "no such file or directory")


def test_a_directory_without_config(pytester):
    pytester.mkdir("empty")
    assert_usage_error(pytester, ["--kick-model=empty"], "the directory has no config.json")
