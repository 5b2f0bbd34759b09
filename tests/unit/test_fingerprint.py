import pytest

from pytest_kick.fingerprint import code_digest, fingerprint_dir, sha256_cached


def test_fingerprint_follows_content(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"a" * 100)
    first = fingerprint_dir(tmp_path)
    assert fingerprint_dir(tmp_path) == first
    (tmp_path / "model.safetensors").write_bytes(b"b" * 100)
    assert fingerprint_dir(tmp_path) != first


def test_file_hash_follows_a_new_version_of_the_file(tmp_path):
    f = tmp_path / "w.bin"
    f.write_bytes(b"one")
    first = sha256_cached(f)
    f.write_bytes(b"two, longer")
    assert sha256_cached(f) != first


def test_code_digest_follows_the_source():
    def a(model, spec, ctx):
        return 1

    def b(model, spec, ctx):
        return 2

    assert code_digest(a) != code_digest(b) and code_digest(a) == code_digest(a)


def test_a_change_in_the_middle_of_a_large_weight_file_changes_the_fingerprint(tmp_path):
    """The collision of issue 12: a pruned model saved dense differs from the dense one only inside its shards."""
    import os

    from pytest_kick.fingerprint import fingerprint_dir

    weights = tmp_path / "model.safetensors"
    weights.write_bytes(os.urandom(3 << 20))
    before = fingerprint_dir(tmp_path)
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte, far from the first and last MiB
    weights.write_bytes(bytes(data))
    assert fingerprint_dir(tmp_path) != before
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "extra.bin").write_bytes(b"x")
    assert fingerprint_dir(tmp_path) != before  # files in subfolders count too


def test_whole_file_hashes_are_remembered_across_sessions_and_checked(tmp_path, monkeypatch):
    import json

    from pytest_kick import fingerprint

    monkeypatch.setattr(fingerprint, "SETTLED_NS", 0)  # the file was just written: trust it at once here
    f = tmp_path / "w.bin"
    f.write_bytes(b"weights" * 1000)
    memo = tmp_path / "memo"
    first = fingerprint.sha256_cached(f, memo)
    (entry,) = memo.iterdir()
    fingerprint._sha256_cached.cache_clear()  # a new session: only the file on disk remembers
    calls = []
    monkeypatch.setattr(fingerprint, "sha256_file", lambda p, chunk=1 << 20: calls.append(p) or "0" * 64)
    assert fingerprint.sha256_cached(f, memo) == first and not calls  # read from the memo, not rehashed
    saved = json.loads(entry.read_text())
    entry.write_text(json.dumps({**saved, "inode": saved["inode"] + 1}))  # another file version: not trusted
    fingerprint._sha256_cached.cache_clear()
    assert fingerprint.sha256_cached(f, memo) == "0" * 64 and len(calls) == 1
    entry.write_text("{not json")
    fingerprint._sha256_cached.cache_clear()
    assert fingerprint.sha256_cached(f, memo) == "0" * 64 and len(calls) == 2


def test_a_checkpoint_never_shares_the_dense_models_key(random_model_dir, tmp_path, monkeypatch):
    """The same directory given as --kick-model and as --kick-compressed: two keys, by construction."""
    from pytest_kick import fingerprint
    from pytest_kick.compression import CompressionSettings
    from pytest_kick.compression.plan import plan_method
    from pytest_kick.compression.spec import CheckpointSpec
    from pytest_kick.models.handles import checkpoint_handle, dense_handle
    from pytest_kick.settings import LoadSettings
    from pytest_kick.sources import ModelSource

    monkeypatch.setattr(fingerprint, "SETTLED_NS", 0)
    fingerprint._sha256_cached.cache_clear()
    settings = LoadSettings(cache_dir=tmp_path / "cache")
    dense = dense_handle(ModelSource("dir", str(random_model_dir)), settings)
    checkpoint = checkpoint_handle(plan_method(CheckpointSpec(str(random_model_dir)), CompressionSettings()), settings)
    assert dense.fingerprint != checkpoint.fingerprint
    assert any((tmp_path / "cache" / "hashes").iterdir())  # whole-file hashes remembered for the next session


def test_the_dtype_a_model_computes_in_is_part_of_its_key(random_model_dir, tmp_path):
    """bf16 and fp32 answers differ: they must never share result or compressed-model keys."""
    from pytest_kick.models.handles import dense_handle
    from pytest_kick.settings import LoadSettings
    from pytest_kick.sources import ModelSource

    def key(**kw):
        return dense_handle(ModelSource("dir", str(random_model_dir)), LoadSettings(device="cpu", cache_dir=tmp_path, **kw)).fingerprint

    assert key(dtype="float32") != key(dtype="bfloat16") != key(dtype="float16")
    assert key(dtype="auto") == key(dtype="float32")  # auto is float32 on a CPU: the same numbers, the same key


@pytest.mark.slow  # loads a real (tiny) model twice
def test_weights_that_differ_only_in_the_middle_of_a_file_get_their_own_key_and_their_own_answers(random_model_dir, tmp_path):
    """Issue 12's collision end to end: a copy of the model with bytes changed in the middle of its weight file (its
    header, first and last bytes untouched) is a different model to the cache, and answers differently."""
    import shutil

    from pytest_kick.contract import LoglikelihoodRequest
    from pytest_kick.models.handles import dense_handle
    from pytest_kick.runners.cache import CachedRunner, ResultCache
    from pytest_kick.settings import LoadSettings
    from pytest_kick.sources import ModelSource

    edited = tmp_path / "edited"
    shutil.copytree(random_model_dir, edited)
    weights = edited / "model.safetensors"
    data = bytearray(weights.read_bytes())
    middle = len(data) // 2
    data[middle - 4096 : middle + 4096] = bytes(8192)  # zero 2,048 float32 weights in the middle
    weights.write_bytes(bytes(data))
    settings = LoadSettings(device="cpu", cache_dir=tmp_path / "cache")
    handles = [dense_handle(ModelSource("dir", str(d)), settings) for d in (random_model_dir, edited)]
    assert handles[0].fingerprint != handles[1].fingerprint
    cache = ResultCache(tmp_path / "cache")
    request = [LoglikelihoodRequest("Question: what is the capital of", " Zorbia")]
    scores = [CachedRunner(h.factory(), cache).loglikelihood(request)[0].logprob for h in handles]
    assert abs(scores[0] - scores[1]) > 1e-4
    assert len(list((tmp_path / "cache" / "results").rglob("*.json"))) == 2  # two entries, never one shared


def test_a_file_rewritten_with_the_same_size_and_mtime_is_a_new_version(tmp_path, monkeypatch):
    """A model unpacked again from an archive with fixed mtimes (same path, size and mtime, maybe the same inode):
    its ctime moves, so the remembered hash of the old content is not used."""
    import os

    from pytest_kick import fingerprint

    monkeypatch.setattr(fingerprint, "SETTLED_NS", 0)
    fingerprint._sha256_cached.cache_clear()
    memo = tmp_path / "memo"
    folder = tmp_path / "model"
    folder.mkdir()
    f = folder / "w.bin"
    f.write_bytes(b"a" * 4096)
    os.utime(f, ns=(0, 0))
    first = fingerprint.sha256_cached(f, memo)
    f.unlink()
    f.write_bytes(b"b" * 4096)
    os.utime(f, ns=(0, 0))
    assert fingerprint.sha256_cached(f, memo) != first


def test_a_hash_of_a_file_still_being_written_is_not_remembered(tmp_path):
    from pytest_kick import fingerprint

    fingerprint._sha256_cached.cache_clear()
    f = tmp_path / "w.bin"
    f.write_bytes(b"fresh")
    fingerprint.sha256_cached(f, tmp_path / "memo")
    assert not (tmp_path / "memo").exists()  # changed in the last two seconds: may not be complete


def test_a_source_digest_of_a_file_that_moved_is_an_error():
    """Code digests guard cache keys: a pattern that matches nothing (a module renamed or moved) must not quietly
    drop out of the key."""
    from pytest_kick.fingerprint import source_digest

    assert source_digest("runners/engine.py") != source_digest("runners/packing.py")
    with pytest.raises(FileNotFoundError, match="engine.py"):
        source_digest("engine.py")
