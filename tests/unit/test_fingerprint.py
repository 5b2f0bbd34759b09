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
