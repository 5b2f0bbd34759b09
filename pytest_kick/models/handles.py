"""Models: loading (local directory, hub snapshot, GGUF converted once), the lazy `ModelHandle`, and the dense,
checkpoint and compressed handles the fixtures hand out (a compressed model is built once, then cached)."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..contract import RunnerFactory
from ..errors import KickUsageError, MissingBackend
from ..fingerprint import code_digest, digest, fingerprint_dir, package_version, sha256_cached, source_digest
from ..settings import LoadSettings
from ..sources import ModelSource, loader_versions, quant_method, require_loader, smollm2_gguf_path
from .devices import resolve_device, resolve_dtype
from .store import ModelCache

if TYPE_CHECKING:  # pragma: no cover
    from ..compression import CompressionSettings
    from ..compression.plan import CompressionPlan
    from ..runners.engine import Engine


def materialize(source: ModelSource, settings: LoadSettings) -> Path:
    """A local HF directory for `source`: GGUF files are dequantized once and cached as safetensors."""
    if source.kind == "dir":
        return Path(source.ref)
    if source.kind == "hub":
        try:
            from huggingface_hub import snapshot_download

            return Path(snapshot_download(source.ref))
        except Exception as exc:  # offline, gated, or misspelled: say which id failed and why
            raise KickUsageError(
                f"--kick-model {source.ref}: could not fetch it from the Hugging Face hub ({type(exc).__name__}: {exc}). "
                "Check the id and your network/token, or pass a local model directory or .gguf file."
            ) from None
    gguf = smollm2_gguf_path() if source.kind == "alias" else Path(source.ref)
    return convert_gguf(gguf, settings.cache_dir)


def convert_gguf(gguf: Path, cache_dir: Path) -> Path:
    """Dequantize a GGUF file to an fp32 safetensors directory in the cache (once; safe across xdist workers), kept
    with a manifest like compressed models: a damaged or truncated conversion is rebuilt, never loaded."""
    sha = sha256_cached(gguf, _hash_memo(cache_dir))
    meta = {
        "sha256": sha,  # the GGUF file, and everything that turns it into weights and a tokenizer
        "transformers": package_version("transformers"),
        "gguf": package_version("gguf"),
        "code": source_digest("models/handles.py"),
    }
    key = "gguf-" + digest(json.dumps(meta, sort_keys=True))[:20]
    path, _ = ModelCache(cache_dir, "models").get_or_build(key, {**meta, "file": str(gguf)}, _GGUFConversion(gguf))
    return path


@dataclass(frozen=True)
class _GGUFConversion:
    gguf: Path

    def __call__(self, out: Path) -> None:
        settle_imports()
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        gguf = self.gguf
        try:
            tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
        except ImportError as exc:
            raise MissingBackend(f"loading GGUF needs the gguf package ({exc}). Install it with: pip install gguf") from None
        except Exception as exc:  # a valid magic with a damaged body, an architecture transformers cannot read
            raise KickUsageError(f"{gguf}: transformers could not read this GGUF file ({type(exc).__name__}: {exc})") from None
        # The weights are dequantized now; drop the GGUF quantizer so save_pretrained writes plain safetensors.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(out, safe_serialization=True)
        tok.save_pretrained(out)


def settle_imports() -> None:
    """Import torch and transformers' model machinery, then move every object alive to the garbage collector's
    permanent generation (gc.freeze): the ~450k objects of those packages live as long as the process, and walking
    them cost each full collection ~0.2 s (pytest runs several at the end) and interpreter exit ~1 s. Models are
    loaded after this (and it runs once), so they stay collectable. PYTEST_KICK_GC_FREEZE=0 leaves the collector
    alone."""
    import gc
    import os

    if _SETTLED:
        return
    import torch  # noqa: F401
    import transformers.modeling_utils  # noqa: F401 - the heavy part (generation, masking, distributed)

    _SETTLED.append(True)
    if os.environ.get("PYTEST_KICK_GC_FREEZE", "1") != "0":
        gc.freeze()


_SETTLED: list[bool] = []


def load_hf(path: Path, settings: LoadSettings, **kwargs: Any):
    """Load a causal LM and its tokenizer from a local directory onto the configured device, in eval mode.
    Quantized loads (bitsandbytes, GPTQ kernels) and models spread over several GPUs (--kick-gpus-per-worker)
    are placed with device_map: such models refuse `.to()`."""
    settle_imports()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = resolve_device(settings.device, settings.worker_id)
    dtype = kwargs.pop("dtype", None) or resolve_dtype(settings.dtype, device)
    quantized = "quantization_config" in kwargs or quant_method(Path(path)) not in (None, "compressed-tensors")
    tok = AutoTokenizer.from_pretrained(str(path), trust_remote_code=settings.trust_remote_code)
    if device.startswith("cuda") and settings.gpus_per_worker > 1:
        kwargs.setdefault("device_map", "auto")  # this worker's share of GPUs is all it can see
    elif quantized:
        kwargs.setdefault("device_map", {"": device})
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype, trust_remote_code=settings.trust_remote_code, **kwargs)
    if "device_map" not in kwargs:
        model.to(device)
    model.eval()
    return model, tok


@dataclass
class ModelHandle:
    """A model loaded on first use. `fingerprint` is known without loading, so cached results need no model."""

    name: str
    fingerprint: str
    _loader: Callable[[], tuple[Any, Any]]
    info: dict = field(default_factory=dict)
    _loaded: tuple[Any, Any] | None = None
    _engine: Engine | None = None
    loads: int = 0
    chat: Callable[[Any], str] | None = None  # the chat template, from the tokenizer alone
    replica: Callable[[], tuple[Path, str, dict, LoadSettings]] | None = None  # for Ray: (dir, loader, kwargs, settings)
    make_engine: Callable[..., Engine] | None = None  # a runtime method's engine (KV cache); None: the dense engine

    def load(self) -> tuple[Any, Any]:
        if self._loaded is None:
            self._loaded = self._loader()
            self.loads += 1
            self.info["params"] = parameter_count(self._loaded[0])
        return self._loaded

    @property
    def model(self):
        return self.load()[0]

    @property
    def tokenizer(self):
        return self.load()[1]

    def engine(self, batch_size: int | str = "auto") -> Engine:
        from ..runners.engine import Engine

        if self._engine is None or self._engine.batch_size != batch_size:
            model, tok = self.load()
            self._engine = (self.make_engine or Engine)(model, tok, batch_size=batch_size)
            self.info["engine"] = self._engine  # its token and time counts give the report's speed
        return self._engine

    def factory(self, batch_size: int | str = "auto") -> RunnerFactory:
        """This model as the evaluation contract sees it: its engine, made on the first cache miss."""
        return RunnerFactory(self.name, lambda: self.engine(batch_size), self.fingerprint, self.info, self.chat)


def parameter_count(model: Any) -> int:
    """Parameters as the model holds them; bitsandbytes' packed 4-bit tensors counted by their real shape."""
    total = 0
    for p in model.parameters():
        state = getattr(p, "quant_state", None)
        total += state.shape.numel() if state is not None and hasattr(state, "shape") else p.numel()
    return total


def tokenizer_chat(folder: Callable[[], Path], trust_remote_code: bool = False) -> Callable[[Any], str]:
    """Render chat messages with the tokenizer in `folder()` (loaded once, on first use; no weights)."""
    loaded: list = []

    def render(messages) -> str:
        from ..runners.engine import render_chat

        if not loaded:
            from transformers import AutoTokenizer

            loaded.append(AutoTokenizer.from_pretrained(str(folder()), trust_remote_code=trust_remote_code))
        return render_chat(loaded[0], messages)

    return render


def numerics(settings: LoadSettings) -> str:
    """What changes a model's numbers besides its weights, for the result and compressed-model keys: the device
    kind and dtype it computes in, and the torch and transformers versions (kernels, attention implementation and
    model code come with them). Batch size is left out on purpose (it moves scores by <= 1e-5, never a decision)."""
    device = settings.device if settings.remote else resolve_device(settings.device, settings.worker_id)  # Ray: the replicas'
    versions = f"torch-{package_version('torch')}/transformers-{package_version('transformers')}"
    return f"{device.split(':')[0]}/{replica_dtype(settings, device)}/{versions}"


def replica_dtype(settings: LoadSettings, device: str | None = None) -> str:
    """The dtype a model computes in, by name. For Ray replicas (`remote`) 'auto' is decided here, not on a node:
    bfloat16 on GPUs, float32 on CPUs; replicas load exactly that and report it back."""
    device = device or (settings.device if settings.remote else resolve_device(settings.device, settings.worker_id))
    if settings.remote and settings.dtype == "auto":
        return "bfloat16" if device.startswith("cuda") else "float32"
    return str(resolve_dtype(settings.dtype, device)).removeprefix("torch.")


def _hash_memo(cache_dir: Path | None) -> Path | None:
    """Where whole-file hashes are remembered across sessions (none without a cache)."""
    return Path(cache_dir) / "hashes" if cache_dir is not None else None


def dense_handle(source: ModelSource, settings: LoadSettings) -> ModelHandle:
    """The dense model as a lazy handle; its fingerprint reads files but loads no weights."""
    if source.kind == "alias":
        fp = "gguf:" + sha256_cached(smollm2_gguf_path(), _hash_memo(settings.cache_dir))
    elif source.kind == "gguf":
        fp = "gguf:" + sha256_cached(Path(source.ref), _hash_memo(settings.cache_dir))
    else:
        fp = "dir:" + fingerprint_dir(materialize(source, settings), _hash_memo(settings.cache_dir))
    return ModelHandle(
        name=source.name,
        fingerprint=digest(f"{fp}|{numerics(settings)}"),
        _loader=lambda: load_hf(materialize(source, settings), settings),
        info={"source": source.kind, "ref": source.ref},
        chat=tokenizer_chat(lambda: materialize(source, settings), settings.trust_remote_code),
        replica=lambda: (materialize(source, settings), "hf", {}, settings),
    )


def checkpoint_handle(plan: CompressionPlan, settings: LoadSettings) -> ModelHandle:
    """An already-compressed checkpoint (--kick-compressed): loaded as it is, with the format named in the report."""
    spec = plan.spec
    path = Path(spec.path)  # type: ignore[attr-defined]
    fmt = plan.checkpoint_format
    if fmt == "gguf":
        handle = dense_handle(ModelSource("gguf", str(path)), settings)
        handle.fingerprint = digest("checkpoint:gguf:" + handle.fingerprint)  # never the key of a dense model (numerics in)
    else:
        require_loader(fmt, path)
        handle = ModelHandle(
            name=path.name,
            fingerprint=digest(
                f"checkpoint:{fmt}:{loader_versions(fmt)}:{fingerprint_dir(path, _hash_memo(settings.cache_dir))}|{numerics(settings)}"
            ),
            _loader=lambda: load_hf(path, settings),
            chat=tokenizer_chat(lambda: path, settings.trust_remote_code),
            replica=lambda: (path, "hf", {}, settings),
        )
    handle.name = f"{path.name} [checkpoint]"
    handle.info.update({"method": spec.id, "format": fmt, "backend": f"checkpoint ({fmt})"})
    return handle


def compressed_key(dense: ModelHandle, plan: CompressionPlan, comp: CompressionSettings) -> dict:
    """Everything a compressed model's weights depend on; its digest names the compressed-model cache entry."""
    key = {
        "dense": dense.fingerprint,
        "spec": plan.spec.to_dict(),
        "backend": plan.backend.label() if plan.backend else None,
        "calibration": plan.calibration,
        "layers": comp.layers.to_dict(),
        "seed": comp.seed,
        "pytest_kick": __version__,
        "compression_code": source_digest("compression/*.py", "models/handles.py"),
    }
    if plan.code is not None:
        key["code"] = plan.code
    return key


def compressed_handle(
    source: ModelSource, dense: ModelHandle, plan: CompressionPlan, settings: LoadSettings, comp: CompressionSettings
) -> ModelHandle:
    """The compressed model: a checkpoint loaded as is, or the dense model compressed here once and kept in the
    compressed-model cache (keyed by everything the weights depend on), then loaded from there."""
    if plan.is_checkpoint:
        return checkpoint_handle(plan, settings)
    if plan.runtime:
        return runtime_handle(dense, plan)
    key = compressed_key(dense, plan, comp)
    fp = digest(json.dumps(key, sort_keys=True))
    info: dict[str, Any] = {"method": plan.spec.id, "backend": plan.backend.label(), "build": "not loaded (answers cached)"}
    if not plan.at_load:  # a model built in an earlier session: its build time is in the cache's manifest
        info["compress_s"] = ModelCache.build_seconds(ModelCache(settings.cache_dir).root / fp)

    def build() -> Path:
        path, built = ModelCache(settings.cache_dir).get_or_build(fp, key, _Builder(source, plan, settings, comp))
        info["build"] = "compressed" if built else "loaded from cache"
        info["cache_entry"] = str(path)
        info["compress_s"] = ModelCache.build_seconds(path)  # compress + save, as measured when it was built
        return path

    def load():
        return _quantize_while_loading(source, plan, settings, info) if plan.at_load else load_compressed(build(), settings)

    def replica():  # Ray: built here once; replicas load the cache entry (bitsandbytes quantizes as each loads)
        if plan.at_load:
            return materialize(source, settings), "hf", plan.compressor()(plan.spec, resolve_dtype(replica_dtype(settings), "")), settings
        return build(), "compressed", {}, settings

    return ModelHandle(f"{source.name} [{plan.spec.id}]", fp, load, info, chat=dense.chat, replica=replica)


def runtime_handle(dense: ModelHandle, plan: CompressionPlan) -> ModelHandle:
    """A runtime method (KV-cache compression): the dense weights, loaded once and shared with the dense model,
    run by the family's own engine. Keyed by the dense model, the spec and the code that runs it."""
    key = {"dense": dense.fingerprint, "spec": plan.spec.to_dict(), "pytest_kick": __version__}
    key["runtime_code"] = source_digest("compression/*.py", "runners/engine.py", "runners/generation.py", "runners/packing.py")
    make = plan.compressor()(plan.spec)
    if plan.code is not None:  # a team's own runtime method: its source, and the module of the engine it returns
        key["code"] = plan.code
        key["engine_code"] = code_digest(inspect.getmodule(make) or make)
    key["quanto"] = package_version("optimum-quanto")  # kv-int's quantizer
    info = {"method": plan.spec.id, "backend": plan.backend.label(), "build": "weights unchanged (dense); KV cache compressed as it runs"}
    info["compress_s"] = 0.0  # nothing is built

    def replica():  # Ray: replicas load the dense files and build the same engine
        path, loader, kwargs, settings = dense.replica()
        return path, loader, {**kwargs, "kick_runtime": plan.spec.id, "kick_backend": plan.backend.name}, settings

    handle = ModelHandle(f"{dense.name} [{plan.spec.id}]", digest(json.dumps(key, sort_keys=True)), dense.load, info, chat=dense.chat)
    handle.replica, handle.make_engine = replica, make
    return handle


def _quantize_while_loading(source: ModelSource, plan: CompressionPlan, settings: LoadSettings, info: dict):
    """bitsandbytes: transformers quantizes while loading; nothing to cache."""
    import time

    dtype = resolve_dtype(settings.dtype, resolve_device(settings.device, settings.worker_id))
    kwargs = plan.compressor()(plan.spec, dtype)
    started = time.perf_counter()
    loaded = load_hf(materialize(source, settings), settings, **kwargs)
    info["build"] = "quantized while loading"
    info["compress_s"] = round(time.perf_counter() - started, 2)  # the whole load, quantization included
    return loaded


@dataclass(frozen=True)
class _Builder:
    """Writes the compressed model into a (temporary) cache directory: load dense, compress, save."""

    source: ModelSource
    plan: CompressionPlan
    settings: LoadSettings
    comp: CompressionSettings

    def __call__(self, out: Path) -> None:
        import torch

        from ..compression import CompressContext, SavedCheckpoint

        src = materialize(self.source, self.settings)
        model, tok = load_hf(src, self.settings)
        ctx = CompressContext(self.comp, tokenizer=tok, source_dir=src, out_dir=out)
        with torch.no_grad():  # compressors edit weights in place; one that needs gradients (gblm) turns them on
            done = self.plan.compressor()(model, self.plan.spec, ctx)
        if not isinstance(done, SavedCheckpoint):
            model.save_pretrained(out)  # llm-compressor hooks this to write compressed-tensors
            tok.save_pretrained(out)


def load_compressed(path: Path, settings: LoadSettings):
    """A cached compressed model. compressed-tensors weights are unpacked to plain linears on load: the same
    logits as running them packed (checked in tests), and the engine's fast path on any device."""
    import warnings

    if quant_method(path) != "compressed-tensors":
        return load_hf(path, settings)
    from transformers import CompressedTensorsConfig

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*quantization_config.*")
        return load_hf(path, settings, quantization_config=CompressedTensorsConfig(dequantize=True))
