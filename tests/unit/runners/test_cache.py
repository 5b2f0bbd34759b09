import pytest

from pytest_kick.contract import DistributionRequest, GenerationRequest, LoglikelihoodRequest, RunnerFactory
from pytest_kick.runners.cache import CachedRunner, ResultCache
from pytest_kick.testing import FakeRunner


def factory(fp="fp1", made=None):
    """A runner factory for a scripted model; `made` records every runner it makes (the model 'loads')."""

    def make():
        runner = FakeRunner({"abc": "ABC"}, logprobs={" a": -1.0, " bb": -2.0})
        if made is not None:
            made.append(runner)
        return runner

    return RunnerFactory("m", make, fp)


def test_second_runner_answers_from_cache_without_the_model(tmp_path):
    reqs = [LoglikelihoodRequest("ctx", " a"), LoglikelihoodRequest("ctx", " bb")]
    first = CachedRunner(factory(), ResultCache(tmp_path))
    a = first.loglikelihood(reqs)
    made = []
    second = CachedRunner(factory(made=made), ResultCache(tmp_path))
    assert second.loglikelihood(reqs) == a
    assert made == [] and second.stats.hits == 2
    gen = [GenerationRequest("abc", ("\n",), 4)]
    assert first.generate(gen) == ["ABC"] and second.generate(gen) == ["ABC"]
    assert made == []  # every answer came from the cache: the model never loaded


def test_other_model_fingerprint_misses(tmp_path):
    reqs = [LoglikelihoodRequest("ctx", " a")]
    CachedRunner(factory("fp1"), ResultCache(tmp_path)).loglikelihood(reqs)
    other = CachedRunner(factory("fp2"), ResultCache(tmp_path))
    other.loglikelihood(reqs)
    assert other.stats.misses == 1


def test_a_factory_without_fingerprint_is_never_cached(tmp_path):
    runner = CachedRunner(RunnerFactory.of(FakeRunner(logprobs={" a": -1.0})), ResultCache(tmp_path))
    for _ in range(2):
        runner.loglikelihood([LoglikelihoodRequest("ctx", " a")])
    assert runner.stats.misses == 2 and not (tmp_path / "results").exists()


def test_distribution_results_round_trip_through_the_cache(tmp_path):
    reqs = [DistributionRequest("Q:", (" yes", " no way"), top_k=3), DistributionRequest("Q:", (" yes",))]
    first = CachedRunner(factory(), ResultCache(tmp_path))
    computed = first.distribution(reqs)
    second = CachedRunner(factory(made=[]), ResultCache(tmp_path))
    assert second.distribution(reqs) == computed and second.stats.hits == 2
    assert len(computed[0].positions) == 2 and len(computed[0].positions[1]) == 2 and computed[1].positions == ()


@pytest.mark.parametrize(
    "payload", [{"logprob": "high", "is_greedy": False}, {"is_greedy": False}, [1, 2], {"logprob": 1.0, "is_greedy": 1}]
)
def test_an_entry_of_the_wrong_shape_is_a_miss_and_is_rewritten(tmp_path, payload):
    reqs = [LoglikelihoodRequest("ctx", " a")]
    cache = ResultCache(tmp_path)
    key = cache.key("fp1", "loglikelihood", {"context": "ctx", "continuation": " a"})
    cache.put(key, payload)
    runner = CachedRunner(factory(), cache)
    with pytest.warns(UserWarning, match="is not (a loglikelihood result|an entry for this request)"):
        assert runner.loglikelihood(reqs)[0].logprob == -1.0 and runner.stats.misses == 1
    assert cache.get(key) == {"logprob": -1.0, "is_greedy": False, "n_tokens": 1}


def test_corrupt_entry_is_a_miss_and_is_rewritten(tmp_path):
    cache = ResultCache(tmp_path)
    key = cache.key("fp", "loglikelihood", {"context": "c", "continuation": "x"})
    cache.put(key, {"logprob": -1.0, "is_greedy": False})
    path = next((tmp_path / "results").rglob("*.json"))
    path.write_text('{"logprob": -1.')  # truncated write from a crashed process
    with pytest.warns(UserWarning, match="is not JSON"):
        assert cache.get(key) is None
    cache.put(key, {"logprob": -2.0, "is_greedy": False})
    assert cache.get(key) == {"logprob": -2.0, "is_greedy": False}
    assert not list((tmp_path / "results").rglob(".tmp-*"))


def test_disabled_cache_stores_nothing(tmp_path):
    cache = ResultCache(None)
    cache.put("k", {"a": 1})
    assert cache.get("k") is None


def _build_into(counter):
    def build(out):
        counter.append(1)
        (out / "model.safetensors").write_bytes(b"w" * 4096)
        (out / "config.json").write_text("{}")

    return build


def test_model_cache_builds_once_then_loads(tmp_path):
    from pytest_kick.models.store import MANIFEST, ModelCache

    calls = []
    cache = ModelCache(tmp_path)
    entry, built = cache.get_or_build("k1", {"spec": "x"}, _build_into(calls))
    assert built and (entry / MANIFEST).is_file() and len(calls) == 1
    again, built = ModelCache(tmp_path).get_or_build("k1", {"spec": "x"}, _build_into(calls))
    assert again == entry and not built and len(calls) == 1
    assert not list(cache.root.glob(".tmp-*"))  # no leftovers


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete", "manifest"])
def test_a_damaged_entry_is_rebuilt_never_used(tmp_path, damage):
    from pytest_kick.models.store import MANIFEST, ModelCache

    calls = []
    entry, _ = ModelCache(tmp_path).get_or_build("k", {}, _build_into(calls))
    weights = entry / "model.safetensors"
    if damage == "truncate":
        weights.write_bytes(weights.read_bytes()[:100])
    elif damage == "flip":
        weights.write_bytes(b"x" + weights.read_bytes()[1:])
    elif damage == "delete":
        weights.unlink()
    else:
        (entry / MANIFEST).write_text("{")
    with pytest.warns(UserWarning, match="does not match its manifest; rebuilding"):
        entry2, built = ModelCache(tmp_path).get_or_build("k", {}, _build_into(calls))
    assert built and len(calls) == 2 and (entry2 / "model.safetensors").read_bytes() == b"w" * 4096


def test_a_failed_build_leaves_nothing_behind(tmp_path):
    from pytest_kick.models.store import ModelCache

    def broken(out):
        (out / "half.bin").write_bytes(b"1")
        raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError):
        ModelCache(tmp_path).get_or_build("k", {}, broken)
    assert not (ModelCache(tmp_path).root / "k").exists()
    assert not list(ModelCache(tmp_path).root.glob(".tmp-*"))


def _race(root, log):
    import time

    from pytest_kick.models.store import ModelCache

    def build(out):
        with open(log, "a") as fh:
            fh.write("built\n")
        time.sleep(0.5)  # long enough that the other process arrives while this one holds the lock
        (out / "w.bin").write_bytes(b"z" * 1000)

    entry, built = ModelCache(root).get_or_build("shared", {}, build)
    assert (entry / "w.bin").read_bytes() == b"z" * 1000


def test_concurrent_processes_build_an_entry_once(tmp_path):
    import multiprocessing

    log = tmp_path / "log.txt"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_race, args=(tmp_path / "c", log)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    assert log.read_text().count("built") == 1


def test_a_hand_edited_answer_is_never_used(tmp_path):
    """A plausible but edited value (issue 12: hand-edited answers moved an accuracy from 0.10 to 1.00) fails its
    checksum: the entry is a miss, recomputed and rewritten, with one warning."""
    import json

    reqs = [LoglikelihoodRequest("ctx", " a")]
    cache = ResultCache(tmp_path)
    CachedRunner(factory(), cache).loglikelihood(reqs)
    path = next((tmp_path / "results").rglob("*.json"))
    entry = json.loads(path.read_text())
    entry["payload"]["logprob"] = 0.0  # "the model was sure"
    path.write_text(json.dumps(entry))
    runner = CachedRunner(factory(), cache)
    with pytest.warns(UserWarning, match="does not match its checksum"):
        assert runner.loglikelihood(reqs)[0].logprob == -1.0
    assert runner.stats.misses == 1 and cache.rejected == 1
    assert json.loads(path.read_text())["payload"]["logprob"] == -1.0  # rewritten
    other = ResultCache(tmp_path)
    moved = next((tmp_path / "results").rglob("*.json"))
    key = other.key("fp1", "loglikelihood", {"context": "ctx", "continuation": " b"})
    target = other._path(key)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(moved.read_text())  # a valid entry copied under another request's name
    with pytest.warns(UserWarning, match="not an entry for this request"):
        assert other.get(key) is None


def test_a_model_entry_is_read_in_full_once_then_trusted_by_its_stamp(tmp_path, monkeypatch):
    """Each load verifies the entry against its manifest, but a file is hashed again only when it changed."""
    from pytest_kick import fingerprint
    from pytest_kick.models.store import ModelCache

    entry, _ = ModelCache(tmp_path).get_or_build("k", {}, _build_into([]))
    fingerprint._sha256_cached.cache_clear()  # a new session
    calls = []
    real = fingerprint.sha256_file
    monkeypatch.setattr(fingerprint, "sha256_file", lambda p, chunk=1 << 20: calls.append(p) or real(p))
    assert ModelCache(tmp_path).verify(entry) and calls == []  # the build remembered its hashes
    weights = entry / "model.safetensors"
    weights.write_bytes(b"v" * weights.stat().st_size)  # same size, new content: a new file version
    assert not ModelCache(tmp_path).verify(entry) and len(calls) == 1


def test_sweep_removes_what_killed_writers_left_and_nothing_alive(tmp_path):
    import os
    import subprocess
    import sys
    import time

    from filelock import FileLock

    from pytest_kick.files import STALE_S, sweep

    compressed = tmp_path / "compressed"
    dead_build, live_build = compressed / f".tmp-{'a' * 32}-x1234567", compressed / f".tmp-{'b' * 32}-x2345678"
    old_version = compressed / ".tmp-q9w8e7r6"  # an older pytest-kick's build folder: not named after its entry
    for d in (dead_build, live_build, old_version):
        d.mkdir(parents=True)
        (d / "model.safetensors").write_bytes(b"half")
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    from pytest_kick.files import _where

    host = _where()
    results = tmp_path / "results" / "ab"
    results.mkdir(parents=True)
    dead_write = results / f".tmp-{gone.stdout.strip()}-{host}-q1.json"  # its writer has exited
    live_write = results / f".tmp-{os.getpid()}-{host}-q2.json"  # this process: alive
    old_write = results / ".tmp-12-0-otherhost-q3.json"  # another machine's: judged by age
    for f in (dead_write, live_write, old_write):
        f.write_text("{")
    os.utime(old_write, (time.time() - STALE_S - 5,) * 2)
    entry = results / "ab12.json"
    entry.write_text("{}")
    with FileLock(str(compressed / f"{'b' * 32}.lock")):  # a builder of bbb... is alive
        removed = sweep(tmp_path)
    assert removed == 3
    assert not dead_build.exists() and live_build.exists() and old_version.exists()  # the old one: only after a day
    assert not dead_write.exists() and live_write.exists() and not old_write.exists() and entry.exists()
    assert sweep(tmp_path / "nowhere") == 0 and not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize(("umask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755), (0o002, 0o664, 0o775), (0o000, 0o664, 0o775)])
def test_cache_files_follow_the_umask_and_are_never_world_writable(tmp_path, umask, file_mode, dir_mode):
    import os
    import stat

    from pytest_kick import files

    old = os.umask(umask)
    files._umask.cache_clear()
    try:
        files.write_atomic(tmp_path / "a" / "b" / "entry.json", "{}")
        build = files.temp_dir(tmp_path / "compressed", "key")
    finally:
        os.umask(old)
        files._umask.cache_clear()
    assert stat.S_IMODE((tmp_path / "a" / "b" / "entry.json").stat().st_mode) == file_mode
    assert stat.S_IMODE((tmp_path / "a" / "b").stat().st_mode) == dir_mode
    assert stat.S_IMODE(build.stat().st_mode) == dir_mode


def test_a_model_entry_built_for_another_key_is_not_served(tmp_path):
    """A copied or misfiled entry: its manifest names the key it was built for."""
    import shutil

    from pytest_kick.models.store import ModelCache

    cache = ModelCache(tmp_path)
    entry, _ = cache.get_or_build("a", {"spec": "rtn4"}, _build_into([]))
    shutil.copytree(entry, cache.root / "b")
    assert cache.verify(cache.root / "a", {"spec": "rtn4"}) and not cache.verify(cache.root / "b", {"spec": "rtn8"})


def test_a_setgid_cache_folder_keeps_its_group_bit(tmp_path):
    import os
    import stat

    from pytest_kick import files

    shared = tmp_path / "team-cache"
    shared.mkdir()
    os.chmod(shared, 0o2775)
    files.write_atomic(shared / "results" / "ab" / "x.json", "{}")
    build = files.temp_dir(shared / "compressed", "k")
    for folder in (shared / "results", shared / "results" / "ab", shared / "compressed", build):
        assert folder.stat().st_mode & stat.S_ISGID, folder
