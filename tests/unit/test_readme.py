"""The README's task and its FakeRunner test run as written, from public names only."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_task_and_its_fakerunner_test_run_as_written(request):
    from pytest_kick.tasks import TASKS

    request.addfinalizer(TASKS.reset)
    task = next(b for b in blocks() if '@register_task("capitals")' in b)
    check = next(b for b in blocks() if "def test_my_task_catches_a_forgetful_model" in b)
    namespace: dict = {}
    exec(compile(task + "\n" + check, str(README), "exec"), namespace)
    namespace["test_my_task_catches_a_forgetful_model"]()
    assert "pytest_kick." not in task.replace("from pytest_kick import", "") + check.replace("from pytest_kick import", "")
