"""--kick-ray: a model's requests evaluated by a pool of Ray actors, each holding one replica of the model.

The pool sits under the result cache (`CachedRunner`): only requests the cache cannot answer reach it, and its
answers are written to the same cache, keyed as a local run's are, so a rerun on one machine reads what the cluster
computed and the other way round. A call's requests are cut into contiguous shards; each idle replica takes the
next shard; answers are put back in request order. A replica that dies costs only the shard it held: that shard
goes back to the queue, a replacement replica is started, and every shard's answer is kept exactly once.

Each replica loads one directory: the dense model as materialized here (a GGUF converted once, a hub snapshot), or
the compressed model as built here once (in the compressed-model cache). A replica whose node sees that directory
with the same bytes (a shared cache folder, or one machine) loads it in place; otherwise the files are shipped
through Ray's object store and checked against their SHA-256 before loading. Nothing imports ray until a pool
starts. Under xdist the controller starts a local cluster once and the workers join it (see `plugin`)."""

from __future__ import annotations

import math
import os
import socket
import warnings
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..contract import decode
from ..errors import KickError, KickUsageError
from ..settings import RaySettings
from .replica import Replica, ReplicaSpec, listing, memo

if TYPE_CHECKING:  # pragma: no cover
    from .handles import BuildFacts, ModelHandle

MODELS_PER_REPLICA = 2
SHARDS_PER_REPLICA = 4  # shards per replica and call: enough to balance uneven shards, few enough to batch well
MAX_SHARD = 256
ADDRESS_ENV = "PYTEST_KICK_RAY_ADDRESS"  # set in xdist workers: the cluster the controller started
INIT = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}  # replicas' output stays in Ray's logs


class ReplicaLost(KickError):
    """Every replica of a model died and none could be started again."""


# ---- connecting ----------------------------------------------------------------------------------------------
def connect(settings: RaySettings) -> Any:
    """Join (or with 'local', start) the cluster once per process; an xdist worker joins its controller's."""
    import ray

    if ray.is_initialized():
        return ray
    address = os.environ.get(ADDRESS_ENV) or (None if settings.address == "local" else settings.address)
    try:
        ray.init(address=address, **INIT)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = address or "a new local cluster"
        raise KickUsageError(f"--kick-ray={settings.address}: could not join {where} ({type(exc).__name__}: {exc})") from None
    return ray


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """A cluster address answers on its port (a few milliseconds), so that a typo fails at start-up instead of
    after Ray's own minutes of retries. 'local' and 'auto' are left to ray.init."""
    if address in ("local", "auto"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise KickUsageError(
            f"--kick-ray={address}: nothing answers at {host}:{port} ({exc.strerror or exc}). Start the cluster "
            "(`ray start --head`), check the address (ray://HOST:10001 for Ray Client, HOST:6379 for the GCS), or use --kick-ray=local."
        ) from None


def start_local() -> str:
    """Start a cluster on this machine (the xdist controller does, once) and return its address for the workers."""
    import ray

    ray.init(**INIT)
    return ray.get_runtime_context().gcs_address


def replicas_that_fit(resources: dict, settings: RaySettings, drivers: int = 1) -> int:
    """How many replicas this driver starts: --kick-ray-replicas, or the cluster's CPUs (GPUs) over what one
    replica asks for, shared among `drivers` xdist workers. Raises when not even one fits."""
    fits = int(resources.get("CPU", 0) // settings.cpus_per_replica)
    if settings.gpus_per_replica > 0:
        fits = min(fits, int(resources.get("GPU", 0) // settings.gpus_per_replica))
    if fits < 1:
        raise KickUsageError(
            f"--kick-ray: one replica asks for {settings.cpus_per_replica:g} CPU and {settings.gpus_per_replica:g} GPU, but the "
            f"cluster has {resources.get('CPU', 0):g} CPU and {resources.get('GPU', 0):g} GPU; lower --kick-ray-*-per-replica."
        )
    return min(settings.replicas, fits) if settings.replicas else max(1, fits // max(drivers, 1))


def shards(n: int, replicas: int) -> list[range]:
    """Contiguous index ranges covering 0..n-1 (neighbouring requests share prefixes: they stay together)."""
    size = max(1, min(MAX_SHARD, math.ceil(n / (replicas * SHARDS_PER_REPLICA))))
    return [range(i, min(i + size, n)) for i in range(0, n, size)]


# ---- the pool ------------------------------------------------------------------------------------------------
@dataclass(eq=False)
class Slot:
    """One replica actor and the models it holds, least recently used first."""

    actor: Any
    models: list[str] = field(default_factory=list)


class ReplicaPool:
    """This process's replicas on the cluster, shared by every model it evaluates (each replica keeps the last
    MODELS_PER_REPLICA models it was asked for, so a dense/compressed pair stays loaded)."""

    def __init__(self, settings: RaySettings, drivers: int = 1) -> None:
        self.settings, self.drivers = settings, drivers
        self.slots: list[Slot] = []
        self.target = 0
        self.lost = self.retried = 0
        self.params: dict[str, int] = {}  # per model (spec key): its parameters as a replica loaded it
        self._blobs: dict[str, dict] = {}

    def run(self, spec: ReplicaSpec, kind: str, requests: Sequence[Any]) -> list:
        """Every request's answer, in order: shards go to idle replicas; a dead replica's shard is queued again."""
        if not requests:
            return []
        ray = connect(self.settings)
        self.target = self.target or replicas_that_fit(ray.cluster_resources(), self.settings, self.drivers)
        parts = shards(len(requests), self.target)
        queue, answers, busy = deque(range(len(parts))), {}, {}
        self._staff(ray, spec, min(self.target, len(parts)))
        while queue or busy:
            working = {id(slot) for _, slot in busy.values()}
            for slot in [s for s in self.slots if id(s) not in working and spec.key in s.models]:
                if queue:
                    i = queue.popleft()
                    busy[slot.actor.run.remote(spec.key, kind, [requests[j] for j in parts[i]])] = (i, slot)
            if not busy:  # every replica is gone: start again (the lost-replica budget ends this)
                self._staff(ray, spec, 1)
                continue
            done, _ = ray.wait(list(busy), num_returns=1)
            i, slot = busy.pop(done[0])
            payloads = self._answer(ray, done[0], slot, spec, i)
            if payloads is None:
                queue.appendleft(i)
                self._staff(ray, spec, min(self.target, len(parts)))
            elif len(payloads) != len(parts[i]):
                raise KickError(f"{spec.name}: a replica answered {len(payloads)} of {len(parts[i])} requests of a shard")
            else:
                answers.setdefault(i, [decode(kind, p) for p in payloads])  # a shard's answer is kept once
        return [r for i in range(len(parts)) for r in answers[i]]

    def _answer(self, ray: Any, ref: Any, slot: Slot, spec: ReplicaSpec, shard: int) -> list | None:
        """A shard's payloads, or None when its replica died (it is dropped; the shard will be redone)."""
        try:
            return ray.get(ref)
        except ray.exceptions.RayActorError as exc:
            self._drop(ray, slot, f"died while answering shard {shard} of {spec.name} ({type(exc).__name__})")
            self.retried += 1
            return None
        except ray.exceptions.RayTaskError as exc:  # the model itself failed: a real error, not a lost replica
            raise KickError(f"{spec.name}: a Ray replica failed: {exc.cause!r}") from None

    def _staff(self, ray: Any, spec: ReplicaSpec, wanted: int) -> None:
        """At least `wanted` live replicas, each holding `spec`'s model; replicas that die meanwhile are replaced
        until more have died than the pool's size, then the run fails."""
        while True:
            if self.lost > self.target:
                raise ReplicaLost(f"{spec.name}: {self.lost} Ray replicas died; giving up (see the Ray logs of the nodes)")
            cls = ray.remote(Replica).options(num_cpus=self.settings.cpus_per_replica, num_gpus=self.settings.gpus_per_replica)
            self.slots += [Slot(cls.remote()) for _ in range(wanted - len(self.slots))]
            self._load(ray, spec, [s for s in self.slots if spec.key not in s.models])
            if len(self.slots) >= wanted:
                return

    def _load(self, ray: Any, spec: ReplicaSpec, slots: list[Slot]) -> None:
        """Load `spec` into every slot in `slots` at once (a replica already holding its share drops the oldest)."""
        pending = []
        for slot in slots:
            while len(slot.models) >= MODELS_PER_REPLICA:
                slot.actor.drop.remote(slot.models.pop(0))  # runs before the load: one caller's calls keep their order
            pending.append((slot, slot.actor.prepare.remote(spec)))
        for slot, ref in pending:
            try:
                status = ray.get(ref)
                if status["status"] == "missing":
                    status = ray.get(slot.actor.prepare.remote(spec, self._ship(ray, spec)))
            except ray.exceptions.RayActorError:
                self._drop(ray, slot, f"died while loading {spec.name}")
                continue
            except ray.exceptions.RayTaskError as exc:
                raise KickError(f"{spec.name}: a Ray replica could not load the model: {exc.cause!r}") from None
            if status["numerics"] != spec.numerics:
                raise KickUsageError(
                    f"--kick-ray: a replica on {status['host']} computes {spec.name} in {status['numerics']}, but the result "
                    f"keys assume {spec.numerics}: install the same torch and transformers on every node as in this process."
                )
            slot.models.append(spec.key)
            self.params[spec.key] = int(status.get("params", 0))

    def _ship(self, ray: Any, spec: ReplicaSpec) -> dict:
        """The model's files in the object store (once per model), for replicas whose node cannot see them."""
        if spec.key not in self._blobs:
            root = Path(spec.path)
            self._blobs[spec.key] = {name: ray.put((root / name).read_bytes()) for name, _, _ in spec.files}
        return self._blobs[spec.key]

    def _drop(self, ray: Any, slot: Slot, why: str) -> None:
        self.lost += 1
        self.slots = [s for s in self.slots if s is not slot]
        ray.kill(slot.actor, no_restart=True)
        warnings.warn(f"pytest-kick: a Ray replica {why}; its work goes to another replica", RuntimeWarning, stacklevel=2)

    def describe(self) -> str:
        text = f"{len(self.slots)} Ray replica(s) of {self.settings.cpus_per_replica:g} CPU, {self.settings.gpus_per_replica:g} GPU"
        return text + (f"; {self.lost} lost, {self.retried} shard(s) redone" if self.lost else "")

    def close(self) -> None:
        if not self.slots:
            return
        import ray

        for slot in self.slots:
            try:
                ray.get(slot.actor.close.remote(), timeout=10)
            except Exception:  # a replica that cannot close leaves at most a temp folder behind
                pass
            ray.kill(slot.actor, no_restart=True)
        self.slots = []


@dataclass
class PoolRunner:
    """One model as the evaluation contract sees it, answered by the process's replica pool."""

    pool: ReplicaPool
    spec: ReplicaSpec
    facts: BuildFacts
    batch_size: int = MAX_SHARD * 4  # progress chunks the cache hands over are multiples of this: room for every replica

    def _run(self, kind: str, requests: Sequence[Any]) -> list:
        try:
            return self.pool.run(self.spec, kind, requests)
        finally:  # what the report says of this model: the replicas that answered, the parameters they loaded
            self.facts.ray = self.pool.describe()
            self.facts.params = self.pool.params.get(self.spec.key, self.facts.params)

    def loglikelihood(self, requests):
        return self._run("loglikelihood", requests)

    def loglikelihood_rolling(self, requests):
        return self._run("rolling", requests)

    def generate(self, requests):
        return self._run("generate", requests)

    def distribution(self, requests):
        return self._run("distribution", requests)


POOL: dict[str, Any] = {}  # "pool": this process's ReplicaPool; spec keys -> ReplicaSpec


def factory(handle: ModelHandle, settings: RaySettings, batch_size: int | str = "auto", drivers: int = 1):
    """The handle's model answered by this process's replica pool; keyed like the local runner (same fingerprint),
    so the two read and write the same cached answers."""
    from ..contract import RunnerFactory

    def make() -> PoolRunner:
        pool = POOL.setdefault("pool", ReplicaPool(settings, drivers))
        key = f"spec|{handle.fingerprint}|{batch_size}"
        if key not in POOL:
            POOL[key] = replica_spec(handle, batch_size, settings)
        return PoolRunner(pool, POOL[key], handle.facts)

    return RunnerFactory(handle.name, make, handle.fingerprint, chat=handle.chat)


def replica_spec(handle: ModelHandle, batch_size: int | str, ray_settings: RaySettings) -> ReplicaSpec:
    """Materialize (convert, or build once) the handle's model in this process and describe what a replica loads."""
    from .load import numerics, placement

    try:
        recipe = handle.recipe()
    except KickUsageError as exc:
        raise KickUsageError(
            f"--kick-ray: {handle.name} is prepared in this process before replicas load it ({exc}). Run pytest on a "
            "node with the replicas' device, or pass a checkpoint built elsewhere with --kick-compressed."
        ) from None
    settings = recipe.settings
    remote = replace(
        settings,
        remote=False,
        worker_id=None,
        dtype=placement(settings).dtype,
        gpus_per_worker=max(1, math.ceil(ray_settings.gpus_per_replica)),  # more than one: spread with a device map
    )
    path = Path(recipe.path)
    return ReplicaSpec(
        handle.name, str(path), listing(path, memo(settings)), recipe.loader, remote, numerics(settings), batch_size, recipe.kwargs
    )


def shutdown() -> None:
    """End of session: stop this process's replicas and leave the cluster (a local one it started stops too)."""
    pool = POOL.pop("pool", None)
    if pool is not None:
        pool.close()
    POOL.clear()
    import ray

    if ray.is_initialized():
        ray.shutdown()
