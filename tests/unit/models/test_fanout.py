"""--kick-ray: what a replica loads (in place, or shipped and checked), how requests are cut into shards, how many
replicas fit, and the pool on a real local Ray cluster (answers identical to the local engine; a killed replica's
shard redone on another, nothing lost or counted twice)."""

import os
import signal
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from pytest_kick.contract import GenerationRequest, LoglikelihoodRequest
from pytest_kick.errors import KickUsageError
from pytest_kick.models.fanout import replicas_that_fit, shards
from pytest_kick.models.handles import BuildFacts
from pytest_kick.models.load import load_hf, numerics, parameter_count
from pytest_kick.models.replica import Replica, ReplicaSpec, listing
from pytest_kick.session.config import KickConfig
from pytest_kick.settings import LoadSettings, RaySettings


def spec_for(path: Path, **kw) -> ReplicaSpec:
    settings = LoadSettings(device="cpu", dtype="float32", cache_dir=None)
    return ReplicaSpec("tiny", str(path), listing(path), "hf", settings, numerics(settings), 4, **kw)


def test_shards_cover_every_request_once_in_order_and_keep_neighbours_together():
    for n in (1, 7, 40, 1000, 5000):
        for replicas in (1, 2, 3, 8):
            parts = shards(n, replicas)
            assert [i for r in parts for i in r] == list(range(n))
            assert all(len(r) <= 256 for r in parts)
            assert len(parts) >= min(n, replicas)  # every replica can get work


@pytest.mark.parametrize(
    ("resources", "ray", "drivers", "expected"),
    [
        ({"CPU": 8}, RaySettings("local"), 1, 8),
        ({"CPU": 8}, RaySettings("local"), 3, 2),  # xdist workers share the cluster
        ({"CPU": 8}, RaySettings("local", replicas=2), 1, 2),
        ({"CPU": 8}, RaySettings("local", replicas=20), 1, 8),  # never more than fit
        ({"CPU": 64, "GPU": 32}, RaySettings("x:1", gpus_per_replica=8, cpus_per_replica=8), 1, 4),
        ({"CPU": 64, "GPU": 32}, RaySettings("x:1", gpus_per_replica=0.5), 4, 16),
    ],
)
def test_replicas_that_fit(resources, ray, drivers, expected):
    assert replicas_that_fit(resources, ray, drivers) == expected


def test_a_replica_that_fits_nowhere_is_a_usage_error():
    with pytest.raises(KickUsageError, match="cluster has 64 CPU and 0 GPU"):
        replicas_that_fit({"CPU": 64}, RaySettings("x:1", gpus_per_replica=1))


@pytest.mark.parametrize(
    ("values", "needle"),
    [
        ({"kick_ray": "somewhere"}, "valid forms are local"),
        ({"kick_ray": "local", "kick_ray_gpus_per_replica": "-1"}, "--kick-ray-gpus-per-replica '-1': must be a number >= 0"),
        ({"kick_ray": "local", "kick_ray_cpus_per_replica": "0"}, "--kick-ray-cpus-per-replica '0': must be a number > 0"),
        ({"kick_ray": "local", "kick_ray_replicas": "0"}, "--kick-ray-replicas '0'"),
        ({"kick_ray": "local", "kick_device": "cuda:1"}, "Ray assigns each replica its GPUs"),
    ],
)
def test_bad_ray_options(values, needle):
    with pytest.raises(KickUsageError, match=needle.replace("(", r"\(").replace("'", "'")):
        KickConfig.from_values(values.get)


def test_results_are_keyed_by_the_replicas_device_not_this_process():
    kick = KickConfig.from_values({"kick_ray": "ray://head:10001", "kick_ray_gpus_per_replica": "8"}.get)
    assert kick.ray.address == "ray://head:10001" and kick.load.device == "cuda" and kick.load.remote
    # no GPU here, yet the key names what the replicas compute in (bfloat16 on GPUs unless told otherwise)
    assert numerics(kick.load).startswith("cuda/bfloat16/torch-")
    cpu = KickConfig.from_values({"kick_ray": "local"}.get)
    assert numerics(cpu.load) == numerics(LoadSettings(device="cpu"))  # a CPU cluster shares a local run's answers


@pytest.mark.slow
def test_a_replica_loads_in_place_or_from_shipped_files_checked_against_their_hashes(random_model_dir, tmp_path):
    spec = spec_for(random_model_dir)
    replica = Replica()
    status = replica.prepare(spec)
    assert status["status"] == "loaded" and status["numerics"] == spec.numerics and not status["shipped"]
    assert status["params"] == parameter_count(load_hf(random_model_dir, spec.settings)[0])  # what the report shows
    reqs = [GenerationRequest("Question: a?\nAnswer:", max_new_tokens=4), GenerationRequest("b", max_new_tokens=3)]
    here = replica.run(spec.key, "generate", reqs)

    elsewhere = replace(spec, path=str(tmp_path / "not-on-this-node"))
    assert Replica().prepare(elsewhere)["status"] == "missing"  # the driver then ships the files
    blobs = {name: (random_model_dir / name).read_bytes() for name, _, _ in spec.files}
    shipped = Replica()
    assert shipped.prepare(elsewhere, blobs)["shipped"]
    assert shipped.run(elsewhere.key, "generate", reqs) == here
    folder = shipped.scratch[elsewhere.key]
    shipped.close()
    assert not folder.exists()

    name = spec.files[0][0]
    damaged = {**blobs, name: blobs[name][:-1] + b"\0"}
    with pytest.raises(Exception, match=f"shipped file {name} does not match its hash"):
        Replica().prepare(elsewhere, damaged)


@pytest.mark.slow
def test_a_changed_file_is_not_the_same_model(random_model_dir, tmp_path):
    import shutil

    copy = Path(shutil.copytree(random_model_dir, tmp_path / "copy"))
    spec = spec_for(copy)
    (copy / "config.json").write_text((copy / "config.json").read_text() + " ")
    assert Replica().prepare(spec)["status"] == "missing"  # same path, other bytes: never loaded as this model


# ---- a real local cluster -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cluster():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    from pytest_kick.models import fanout

    fanout.shutdown()


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="kills a replica process by pid")
def test_the_pool_answers_like_the_engine_and_survives_a_killed_replica(cluster, random_model_dir):
    from pytest_kick.models.fanout import ReplicaPool
    from pytest_kick.models.load import load_hf
    from pytest_kick.runners.engine import Engine

    spec = spec_for(random_model_dir)
    reqs = [LoglikelihoodRequest(f"Question: what is {i}?\nAnswer:", f" {i * 7}") for i in range(30)]
    gens = [GenerationRequest(f"Question: what is {i}?\nAnswer:", max_new_tokens=5) for i in range(12)]
    local = Engine(*load_hf(random_model_dir, spec.settings), batch_size=4)
    pool = ReplicaPool(RaySettings("local", replicas=2))
    got = pool.run(spec, "loglikelihood", reqs)
    assert len(pool.slots) == 2 and all(s.models == [spec.key] for s in pool.slots)
    assert pool.params[spec.key] == parameter_count(load_hf(random_model_dir, spec.settings)[0])
    want = local.loglikelihood(reqs)
    assert [g.is_greedy for g in got] == [w.is_greedy for w in want]
    assert [g.logprob for g in got] == pytest.approx([w.logprob for w in want], abs=1e-5)
    assert pool.run(spec, "generate", gens) == local.generate(gens)

    victim = pool.slots[0]
    os.kill(cluster.get(victim.actor.prepare.remote(spec))["pid"], signal.SIGKILL)  # a replica's process dies
    with pytest.warns(RuntimeWarning, match="a Ray replica died while answering shard"):
        again = pool.run(spec, "generate", gens)
    assert again == local.generate(gens)  # every answer once, in order
    assert pool.lost == 1 and pool.retried >= 1 and len(pool.slots) == 2 and victim not in pool.slots
    assert "1 lost" in pool.describe()


def test_a_pool_runner_reports_the_parameters_its_replicas_loaded():
    """The driver never loads a model under --kick-ray: the report's parameter count comes from the replicas."""
    from pytest_kick.models.fanout import PoolRunner

    class Pool:
        params: dict = {}

        def run(self, spec, kind, requests):
            self.params[spec.key] = 1234  # a replica loaded it (ReplicaPool._load)
            return list(requests)

        def describe(self):
            return "2 Ray replica(s) of 1 CPU, 0 GPU"

    spec = ReplicaSpec("tiny", "/m", (), "hf", LoadSettings(device="cpu"), "cpu/float32")
    facts = BuildFacts(method="rtn4")
    runner = PoolRunner(Pool(), spec, facts)
    assert runner.loglikelihood(["r"]) == ["r"]
    assert (facts.params, facts.ray) == (1234, "2 Ray replica(s) of 1 CPU, 0 GPU")


def test_without_ray_installed_the_option_names_the_extra(monkeypatch):
    import importlib.util

    from pytest_kick.errors import MissingBackend

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    with pytest.raises(MissingBackend, match=r"pip install 'pytest-kick\[ray\]'"):
        KickConfig.from_values({"kick_ray": "local"}.get)
