"""Loading models: where a model's files come from (local directory, hub snapshot, GGUF converted once), where and
in what dtype it computes (`placement`, the one rule), and the transformers loads themselves."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import KickUsageError, MissingBackend
from ..fingerprint import digest, package_version, sha256_cached, source_digest
from ..settings import LoadSettings
from ..sources import ModelSource, quant_method, smollm2_gguf_path
from .devices import resolve_device, resolve_dtype
from .store import ModelCache


@dataclass(frozen=True)
class Placement:
    """Where a model computes and in what dtype, by name. For Ray (`settings.remote`) it is the replicas': the
    configured device, and for dtype 'auto' bfloat16 on GPUs, float32 on CPUs, decided here and not on a node."""

    device: str
    dtype: str

    def torch_dtype(self):
        import torch

        return getattr(torch, self.dtype)


def placement(settings: LoadSettings, *, here: bool = False) -> Placement:
    """The one place a model's device and dtype are resolved: the replicas' under Ray, unless `here` (a model this
    process loads itself, on its own device)."""
    remote = settings.remote and not here
    device = settings.device if remote else resolve_device(settings.device, settings.worker_id)
    if remote and settings.dtype == "auto":
        return Placement(device, "bfloat16" if device.startswith("cuda") else "float32")
    return Placement(device, str(resolve_dtype(settings.dtype, device)).removeprefix("torch."))


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
    sha = sha256_cached(gguf, hash_memo(cache_dir))
    meta = {
        "sha256": sha,  # the GGUF file, and everything that turns it into weights and a tokenizer
        "transformers": package_version("transformers"),
        "gguf": package_version("gguf"),
        "code": source_digest("models/load.py"),
    }
    key = "gguf-" + digest(json.dumps(meta, sort_keys=True))[:20]
    cache = ModelCache(cache_dir, "models")
    path, _ = cache.get_or_build(key, {**meta, "file": str(gguf)}, _GGUFConversion(gguf, cache.root))
    return path


@dataclass(frozen=True)
class _GGUFConversion:
    gguf: Path
    cache_root: Path = Path(".")  # the `models` cache folder: its earlier conversions give the time estimate

    def __call__(self, out: Path) -> None:
        settle_imports()
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers import modeling_gguf_pytorch_utils as tensors_loop

        from ..runners import progress

        gguf = self.gguf
        progress.announce(f"kick: converting {gguf.name} to safetensors (once per file, then cached){self.estimate()}")
        try:
            with _one_reader(), progress.through_tqdm(tensors_loop, f"convert {gguf.name}", "tensors"):
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

    def estimate(self) -> str:
        """`; about 50 s`: this file's size at the speed of the conversions already in the cache (they record their
        build time and source file), or nothing when there are none to measure from."""
        seconds = size = 0.0
        for manifest in self.cache_root.glob("gguf-*/kick_manifest.json"):
            try:
                record = json.loads(manifest.read_text())
                source = Path(record["key"]["file"]).stat().st_size
                seconds, size = seconds + float(record["build_s"]), size + source
            except (OSError, ValueError, KeyError, TypeError):
                continue
        if not seconds or not size:
            return ""
        from ..runners.progress import duration

        return f"; about {duration(self.gguf.stat().st_size * seconds / size)}, measured on the conversions in the cache"


@contextmanager
def _one_reader():
    """transformers parses a GGUF file's metadata (the whole vocabulary: ~11 s for SmolLM2) once for the config and
    once more each for the tokenizer and the weights: within a conversion, each file is parsed once."""
    import gguf

    original, readers = gguf.GGUFReader, {}

    def reader(path, *args, **kwargs):
        key = (str(path), args, tuple(sorted(kwargs.items())))
        if key not in readers:
            readers[key] = original(path, *args, **kwargs)
        return readers[key]

    gguf.GGUFReader = reader
    try:
        yield
    finally:
        gguf.GGUFReader = original


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
    quiet_libraries()
    if os.environ.get("PYTEST_KICK_GC_FREEZE", "1") != "0":
        gc.freeze()


_SETTLED: list[bool] = []

# What transformers says on every load or generation of models pytest-kick runs, and is no news: it would fill a
# failed test's captured output. Matched as substrings of the message.
HARMLESS = (
    "Ignoring clean_up_tokenization_spaces=True for BPE tokenizer",  # transformers keeps BPE text as it is: we want that
    "generation flags are not valid and may be ignored",  # greedy decoding ignores a model's sampling defaults
    "Setting `pad_token_id` to `eos_token_id`",  # open-ended generation of a model without a pad token
)


class _Harmless:
    """A logging filter dropping the HARMLESS messages (every other warning still shows)."""

    @staticmethod
    def filter(record) -> bool:
        message = record.getMessage()
        return not any(text in message for text in HARMLESS)


def quiet_libraries() -> None:
    """transformers' own progress bars (loading weights, writing shards: pytest-kick shows its own progress where
    progress goes, never into a test's captured output) off, and its HARMLESS messages filtered, once per process.
    PYTEST_KICK_QUIET=0 leaves the libraries as they are."""
    import os

    if os.environ.get("PYTEST_KICK_QUIET", "1") == "0":
        return
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    root = hf_logging.get_logger()  # the library's root logger: its handlers see every module's records
    for handler in root.handlers:
        if not any(isinstance(f, _Harmless) for f in handler.filters):
            handler.addFilter(_Harmless())


def load_hf(path: Path, settings: LoadSettings, **kwargs: Any):
    """Load a causal LM and its tokenizer from a local directory onto the configured device, in eval mode.
    Quantized loads (bitsandbytes, GPTQ kernels) and models spread over several GPUs (--kick-gpus-per-worker)
    are placed with device_map: such models refuse `.to()`."""
    settle_imports()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    where = placement(settings, here=True)
    device, dtype = where.device, kwargs.pop("dtype", None) or where.torch_dtype()
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


NUMERIC_PACKAGES = ("torch", "transformers", "tokenizers", "safetensors", "accelerate")


def numerics(settings: LoadSettings) -> str:
    """What changes a model's numbers besides its weights, for the result and compressed-model keys: the device
    kind and dtype it computes in, and the versions of every package that touches its tokens or weights: torch and
    transformers (kernels, attention implementation and model code), tokenizers (the token ids), safetensors (the
    weights read) and accelerate (device placement and offloading). Batch size is left out on purpose (it moves
    scores by <= 1e-5, never a decision)."""
    where = placement(settings)  # Ray: the replicas'
    versions = "/".join(f"{name}-{package_version(name)}" for name in NUMERIC_PACKAGES)
    return f"{where.device.split(':')[0]}/{where.dtype}/{versions}"


def hash_memo(cache_dir: Path | None) -> Path | None:
    """Where whole-file hashes are remembered across sessions (none without a cache)."""
    return Path(cache_dir) / "hashes" if cache_dir is not None else None


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
