"""Model handles: one kind per way of getting a model (dense, a shipped checkpoint, compressed here, a runtime method
over the dense weights), behind one lazy `ModelHandle`. Each knows its fingerprint without loading, what a Ray
replica loads (`ReplicaRecipe`), and the facts the report shows about how it was made (`BuildFacts`)."""

from __future__ import annotations

import dataclasses
import inspect
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .._version import __version__
from ..contract import RunnerFactory
from ..fingerprint import code_digest, digest, fingerprint_dir, package_version, sha256_cached, source_digest
from ..settings import LoadSettings
from ..sources import ModelSource, loader_versions, require_loader, smollm2_gguf_path
from .load import convert_gguf, hash_memo, load_compressed, load_hf, materialize, numerics, parameter_count, placement, tokenizer_chat
from .store import ModelCache

if TYPE_CHECKING:  # pragma: no cover
    from ..compression import CompressionSettings
    from ..compression.plan import CompressionPlan
    from ..runners.engine import Engine


@dataclass
class BuildFacts:
    """How this process got a model, as the report shows it: plain values only, filled in as the model is built,
    loaded and run (the engine's counts give its speed)."""

    method: str = ""
    backend: str = ""
    build: str = ""
    compress_s: float | None = None
    cache_entry: str = ""
    format: str = ""
    source: str = ""
    ref: str = ""
    params: int = 0
    ray: str = ""  # the replica pool that answered, under --kick-ray
    tokens_fed: int = 0  # tokens the engine read, and the seconds of model work that took
    busy_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ReplicaRecipe:
    """What a Ray replica loads: a local directory, how (`hf`: as transformers reads it; `compressed`: a cached
    compressed model), extra load arguments, and the load settings of this process."""

    path: Path
    loader: Literal["hf", "compressed"]
    kwargs: dict
    settings: LoadSettings


class ModelHandle:
    """A model loaded on first use. `fingerprint` is known without loading, so cached results need no model."""

    def __init__(self, name: str, fingerprint: str, chat=None, facts: BuildFacts | None = None) -> None:
        self.name = name
        self.fingerprint = fingerprint
        self.chat = chat  # the chat template, from the tokenizer alone
        self.facts = facts or BuildFacts()
        self.loads = 0
        self._loaded: tuple[Any, Any] | None = None
        self._engine: Engine | None = None

    # ---- what each kind says -----------------------------------------------------------------------------------
    def _load(self) -> tuple[Any, Any]:
        raise NotImplementedError

    def recipe(self) -> ReplicaRecipe:
        """What a Ray replica loads (a model built here is built once, in this process, first)."""
        raise NotImplementedError

    def make_engine(self, model, tokenizer, batch_size) -> Engine:
        from ..runners.engine import Engine

        return Engine(model, tokenizer, batch_size=batch_size)

    # ---- the same for every kind -------------------------------------------------------------------------------
    def load(self) -> tuple[Any, Any]:
        if self._loaded is None:
            self._loaded = self._load()
            self.loads += 1
            self.facts.params = parameter_count(self._loaded[0])
        return self._loaded

    @property
    def model(self):
        return self.load()[0]

    @property
    def tokenizer(self):
        return self.load()[1]

    def engine(self, batch_size: int | str = "auto") -> Engine:
        if self._engine is None or self._engine.batch_size != batch_size:
            model, tok = self.load()
            self._engine = self.make_engine(model, tok, batch_size)
        return self._engine

    def snapshot(self) -> BuildFacts:
        """The facts as they stand now, with the engine's counts so far."""
        if self._engine is None:
            return dataclasses.replace(self.facts)
        engine = self._engine  # a team's runtime engine may keep no counts
        return dataclasses.replace(self.facts, tokens_fed=getattr(engine, "tokens_fed", 0), busy_s=getattr(engine, "busy_s", 0.0))

    def factory(self, batch_size: int | str = "auto") -> RunnerFactory:
        """This model as the evaluation contract sees it: its engine, made on the first cache miss."""
        return RunnerFactory(self.name, lambda: self.engine(batch_size), self.fingerprint, chat=self.chat)


class DenseHandle(ModelHandle):
    """The dense model: an alias, a GGUF file (converted once), a local directory or a hub snapshot."""

    def __init__(self, source: ModelSource, settings: LoadSettings) -> None:
        # a GGUF file is converted (dequantized) by the gguf package: its version changes the weights computed from it
        if source.kind == "alias":
            fp = f"gguf:{package_version('gguf')}:" + sha256_cached(smollm2_gguf_path(), hash_memo(settings.cache_dir))
        elif source.kind == "gguf":
            fp = f"gguf:{package_version('gguf')}:" + sha256_cached(Path(source.ref), hash_memo(settings.cache_dir))
        else:
            fp = "dir:" + fingerprint_dir(materialize(source, settings), hash_memo(settings.cache_dir))
        self.source, self.settings = source, settings
        chat = tokenizer_chat(self.directory, settings.trust_remote_code)
        super().__init__(source.name, digest(f"{fp}|{numerics(settings)}"), chat, BuildFacts(source=source.kind, ref=source.ref))

    def directory(self) -> Path:
        return materialize(self.source, self.settings)

    def _load(self):
        return load_hf(self.directory(), self.settings)

    def recipe(self) -> ReplicaRecipe:
        return ReplicaRecipe(self.directory(), "hf", {}, self.settings)


class CheckpointHandle(ModelHandle):
    """An already-compressed checkpoint (--kick-compressed), loaded as it is; its key never equals a dense model's."""

    def __init__(self, plan: CompressionPlan, settings: LoadSettings) -> None:
        self.path, self.format, self.settings = Path(plan.spec.path), plan.checkpoint_format, settings  # type: ignore[attr-defined]
        if self.format == "gguf":
            dense = DenseHandle(ModelSource("gguf", str(self.path)), settings)
            fp = digest("checkpoint:gguf:" + dense.fingerprint)  # never the key of a dense model (numerics in)
        else:
            require_loader(self.format, self.path)
            files = fingerprint_dir(self.path, hash_memo(settings.cache_dir))
            fp = digest(f"checkpoint:{self.format}:{loader_versions(self.format)}:{files}|{numerics(settings)}")
        facts = BuildFacts(method=plan.spec.id, format=self.format, backend=f"checkpoint ({self.format})")
        super().__init__(f"{self.path.name} [checkpoint]", fp, tokenizer_chat(self.directory, settings.trust_remote_code), facts)

    def directory(self) -> Path:
        return convert_gguf(self.path, self.settings.cache_dir) if self.format == "gguf" else self.path

    def _load(self):
        return load_hf(self.directory(), self.settings)

    def recipe(self) -> ReplicaRecipe:
        return ReplicaRecipe(self.directory(), "hf", {}, self.settings)


class CompressedHandle(ModelHandle):
    """The dense model compressed here once and kept in the model store (keyed by everything the weights depend
    on), then loaded from there; bitsandbytes methods quantize while loading instead (nothing to keep)."""

    def __init__(self, dense: DenseHandle, plan: CompressionPlan, comp: CompressionSettings) -> None:
        self.dense, self.plan, self.comp, self.settings = dense, plan, comp, dense.settings
        self.key = compressed_key(dense, plan, comp)
        fp = digest(json.dumps(self.key, sort_keys=True))
        facts = BuildFacts(method=plan.spec.id, backend=plan.backend.label(), build="not loaded (answers cached)")
        if not plan.at_load:  # a model built in an earlier session: its build time is in the store's manifest
            facts.compress_s = ModelCache.build_seconds(ModelCache(self.settings.cache_dir).root / fp)
        super().__init__(f"{dense.source.name} [{plan.spec.id}]", fp, dense.chat, facts)

    def build(self) -> Path:
        path, built = ModelCache(self.settings.cache_dir).get_or_build(
            self.fingerprint, self.key, _Builder(self.dense, self.plan, self.comp)
        )
        self.facts.build = "compressed" if built else "loaded from cache"
        self.facts.cache_entry = str(path)
        self.facts.compress_s = ModelCache.build_seconds(path)  # compress + save, as measured when it was built
        return path

    def _load(self):
        if not self.plan.at_load:
            return load_compressed(self.build(), self.settings)
        kwargs = self.plan.compressor()(self.plan.spec, placement(self.settings, here=True).torch_dtype())
        started = time.perf_counter()
        loaded = load_hf(self.dense.directory(), self.settings, **kwargs)
        self.facts.build = "quantized while loading"
        self.facts.compress_s = round(time.perf_counter() - started, 2)  # the whole load, quantization included
        return loaded

    def recipe(self) -> ReplicaRecipe:  # bitsandbytes quantizes as each replica loads; others load the store's entry
        if self.plan.at_load:
            kwargs = self.plan.compressor()(self.plan.spec, placement(self.settings).torch_dtype())
            return ReplicaRecipe(self.dense.directory(), "hf", kwargs, self.settings)
        return ReplicaRecipe(self.build(), "compressed", {}, self.settings)


class RuntimeHandle(ModelHandle):
    """A runtime method (KV-cache compression): the dense weights, loaded once and shared with the dense model, run
    by the family's own engine. Keyed by the dense model, the spec and the code that runs it."""

    def __init__(self, dense: ModelHandle, plan: CompressionPlan) -> None:
        key = {"dense": dense.fingerprint, "spec": plan.spec.to_dict(), "pytest_kick": __version__}
        key["runtime_code"] = source_digest("compression/*.py", "runners/engine.py", "runners/generation.py", "runners/packing.py")
        self.maker = plan.compressor()(plan.spec)
        if plan.code is not None:  # a team's own runtime method: its source, and the module of the engine it returns
            key["code"] = plan.code
            key["engine_code"] = code_digest(inspect.getmodule(self.maker) or self.maker)
        key["quanto"] = package_version("optimum-quanto")  # kv-int's quantizer
        build = "weights unchanged (dense); KV cache compressed as it runs"
        facts = BuildFacts(method=plan.spec.id, backend=plan.backend.label(), build=build, compress_s=0.0)  # nothing is built
        super().__init__(f"{dense.name} [{plan.spec.id}]", digest(json.dumps(key, sort_keys=True)), dense.chat, facts)
        self.dense, self.plan = dense, plan

    def _load(self):
        return self.dense.load()

    def make_engine(self, model, tokenizer, batch_size) -> Engine:
        return self.maker(model, tokenizer, batch_size=batch_size)

    def recipe(self) -> ReplicaRecipe:  # replicas load the dense files and build the same engine
        dense = self.dense.recipe()
        extra = {"kick_runtime": self.plan.spec.id, "kick_backend": self.plan.backend.name}
        return dataclasses.replace(dense, kwargs={**dense.kwargs, **extra})


def dense_handle(source: ModelSource, settings: LoadSettings) -> DenseHandle:
    """The dense model as a lazy handle; its fingerprint reads files but loads no weights."""
    return DenseHandle(source, settings)


def compressed_handle(
    source: ModelSource, dense: ModelHandle, plan: CompressionPlan, settings: LoadSettings, comp: CompressionSettings
) -> ModelHandle:
    """The compressed model of `plan`: a checkpoint loaded as is, a runtime method over the dense weights, or the
    dense model compressed here once (`source` and `settings` are the dense model's)."""
    if plan.is_checkpoint:
        return CheckpointHandle(plan, settings)
    if plan.runtime:
        return RuntimeHandle(dense, plan)
    if not isinstance(dense, DenseHandle) or dense.source != source or dense.settings != settings:
        dense = DenseHandle(source, settings)
    return CompressedHandle(dense, plan, comp)


def checkpoint_handle(plan: CompressionPlan, settings: LoadSettings) -> CheckpointHandle:
    return CheckpointHandle(plan, settings)


def compressed_key(dense: ModelHandle, plan: CompressionPlan, comp: CompressionSettings) -> dict:
    """Everything a compressed model's weights depend on; its digest names the model store's entry."""
    key = {
        "dense": dense.fingerprint,
        "spec": plan.spec.to_dict(),
        "backend": plan.backend.label() if plan.backend else None,
        "calibration": plan.calibration,
        "layers": comp.layers.to_dict(),
        "seed": comp.seed,
        "pytest_kick": __version__,
        "compression_code": source_digest("compression/*.py", "models/handles.py", "models/load.py"),
    }
    if plan.code is not None:
        key["code"] = plan.code
    return key


@dataclass(frozen=True)
class _Builder:
    """Writes the compressed model into a (temporary) store directory: load dense, compress, save."""

    dense: DenseHandle
    plan: CompressionPlan
    comp: CompressionSettings = field(repr=False)

    def __call__(self, out: Path) -> None:
        import torch

        from ..compression import CompressContext, SavedCheckpoint

        src = self.dense.directory()
        model, tok = load_hf(src, self.dense.settings)
        ctx = CompressContext(self.comp, tokenizer=tok, source_dir=src, out_dir=out)
        with torch.no_grad():  # compressors edit weights in place; one that needs gradients (gblm) turns them on
            done = self.plan.compressor()(model, self.plan.spec, ctx)
        if not isinstance(done, SavedCheckpoint):
            model.save_pretrained(out)  # llm-compressor hooks this to write compressed-tensors
            tok.save_pretrained(out)
