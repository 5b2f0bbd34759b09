"""Start-up checks: what can be known about a run from its options, the files they name and the installed packages
is checked before any model runs, each failure a KickUsageError (pytest's exit 4) naming the option or file and
the fix. Two layers:

- `check_files` (pure Python, every session): model and checkpoint files, the toxicity scorer's config, the
  cache directory, calibration text. Returns warnings for options that will have no effect.
- `check_model` (imports torch and transformers; only when an option needs it and a kick fixture is used): the
  device, and each method's layer selection and shape rules (group size, N:M) against the model's architecture,
  built from its config on the meta device (no weights read)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import KickUsageError
from ..sources import DEFAULT_MODEL, ModelSource, check_gguf, require_loader, smollm2_gguf_path

if TYPE_CHECKING:  # pragma: no cover
    from ..compression.plan import CompressionPlan
    from .config import KickConfig

WEIGHTS = ("*.safetensors", "*.bin", "*.pt", "*.pth", "*.gguf")


# ---- layer 1: files and packages -----------------------------------------------------------------------------
def check_files(kick: KickConfig, check_cache: bool = True) -> list[str]:
    """Raise for the first problem in the files the options name; return warnings for options without effect.
    `check_cache`: whether the cache folder is checked now (one the user named) or later (the default one, once a
    test uses a kick fixture: a session without kick tests must not fail for it)."""
    if kick.model.kind == "dir":
        check_model_dir(Path(kick.model.ref), "--kick-model")
    elif kick.model.kind == "gguf":
        check_gguf(Path(kick.model.ref), "--kick-model")
    for plan in kick.plans:
        if plan.is_checkpoint:
            path = Path(plan.spec.path)  # type: ignore[attr-defined]
            if plan.checkpoint_format == "gguf":
                check_gguf(path, "--kick-compressed")
            else:
                check_model_dir(path, "--kick-compressed", loader=plan.checkpoint_format or "dense")
            dense = _local_model(kick.model)
            if dense is not None and not kick.pair_any:
                from ..models.pairing import check_pair

                check_pair(dense, path)
    _check_context(kick)
    if kick.evaluation.toxicity_scorer not in (None, "profanity-check"):
        from ..tasks.scorers import HFClassifier

        HFClassifier(kick.evaluation.toxicity_scorer)  # reads config.json only: architectures and labels
    judge = kick.evaluation.judge
    if judge is not None and judge.prompt != "pairwise-scores":
        from ..gates.judges import judge_prompt

        try:
            judge_prompt(judge.prompt).render("question", "first answer", "second answer", "reference")  # placeholders now
        except OSError as exc:
            raise KickUsageError(f"--kick-judge-prompt {judge.prompt}: cannot read it ({exc.strerror})") from None
    if check_cache and kick.load.cache_dir is not None:
        check_writable(Path(kick.load.cache_dir))
    if kick.ray is not None:
        from ..models.fanout import check_reachable

        check_reachable(kick.ray.address)
    warnings = []
    layers = kick.compression.layers
    if (layers.targets or layers.skip_first or layers.skip_last) and all(p.whole for p in kick.plans):
        methods = ", ".join(p.spec.id for p in kick.plans)
        warnings.append(f"--kick-targets/--kick-skip-* have no effect on {methods}: they compress the model as a whole")
    calibration = kick.compression.calibration
    if calibration.source != "builtin" and not any(p.needs_calibration for p in kick.plans):
        methods = ", ".join(p.spec.id for p in kick.plans)
        warnings.append(f"--kick-calib-data={calibration.source} has no effect: none of the methods ({methods}) reads calibration data")
    return warnings


def _check_context(kick: KickConfig) -> None:
    """Calibration windows no longer than the positions the dense model reads (a longer one would index past a
    learned position table, or run rotary positions the model never saw)."""
    seqlen = kick.compression.calibration.seqlen
    path = _local_model(kick.model) if any(p.needs_calibration for p in kick.plans) else None
    if path is None:
        return
    if path.is_file():
        from ..sources import gguf_metadata

        meta = gguf_metadata(path)
        context = meta.get(f"{meta.get('general.architecture')}.context_length")
    else:
        try:
            config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        from ..models.checkfiles import text_config

        text = text_config(config)
        context = text.get("max_position_embeddings", text.get("n_positions"))
    if isinstance(context, int) and not isinstance(context, bool) and 0 < context < seqlen:
        raise KickUsageError(
            f"--kick-calib-seqlen={seqlen}: the model reads at most {context} positions; give --kick-calib-seqlen={context} or less."
        )


def check_model_dir(path: Path, flag: str, loader: str | None = None) -> None:
    """A Hugging Face model directory: config.json that is JSON, weight files next to it, and what their headers,
    the config and the tokenizer files say (`models.checkfiles`)."""
    config = path / "config.json"
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise KickUsageError(
            f"{flag} {path}: {config.name} is not valid JSON ({exc}); save the model again with save_pretrained()."
        ) from None
    if not isinstance(data, dict):
        raise KickUsageError(f"{flag} {path}: {config.name} holds a {type(data).__name__}, not a model configuration.")
    if not any(next(path.glob(p), None) for p in WEIGHTS):
        raise KickUsageError(
            f"{flag} {path}: config.json is there but no weight files ({', '.join(WEIGHTS)}); was the save interrupted? "
            "Save the model again with save_pretrained()."
        )
    if loader is not None:  # a missing package is the first thing to fix: its message names the install
        require_loader(loader, path)
    from ..models.checkfiles import check_checkpoint

    check_checkpoint(path, flag, data)


def accepts_files(folder: Path) -> tuple[Path, str | None]:
    """(the nearest folder at or above `folder` that exists, why no file can be made in it or None). A real probe, a
    file created and removed at once (`os.access` says yes to root under /proc and on read-only mounts)."""
    import tempfile

    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        return probe, "not a directory"
    try:
        fd, name = tempfile.mkstemp(dir=probe, prefix=".kick-probe-")
    except OSError as exc:
        return probe, exc.strerror or type(exc).__name__
    os.close(fd)
    os.unlink(name)
    return probe, None


def _local_model(source: ModelSource) -> Path | None:
    """The dense model's file or folder when it is on this machine now (a hub id is checked once downloaded: not yet)."""
    if source.kind == "alias":
        try:
            return smollm2_gguf_path()
        except Exception:  # the default model's package is missing: loading it says so, with the fix
            return None
    return Path(source.ref) if source.kind in ("gguf", "dir") else None


def check_writable(cache: Path) -> None:
    """The cache directory, or the nearest folder that exists above it, must take files (nothing is left behind)."""
    probe, why = accepts_files(cache)
    if why is not None:
        raise KickUsageError(
            f"--kick-cache-dir {cache}: {probe} is not a writable directory ({why}). Give a writable folder, "
            "or --kick-cache-dir=none to keep nothing between sessions."
        )


def check_outputs(kick: KickConfig, rootpath: Path | None = None) -> None:
    """Every file the run writes at its end (--kick-report, --kick-html, --kick-save) must be writable now: a run
    should not compute for an hour and then lose its report."""
    outputs = [("--kick-report", kick.report), ("--kick-html", kick.html), ("--kick-markdown", kick.markdown)]
    if kick.save is not None and rootpath is not None:
        outputs.append(("--kick-save", rootpath / ".kick" / f"{kick.save}.json"))
    for flag, path in outputs:
        if path is None:
            continue
        probe, why = accepts_files(Path(path).parent)
        if why is not None:
            raise KickUsageError(
                f"{flag} {path}: cannot write there: {probe} is not a writable directory ({why}). Give a path you can write."
            )


# ---- layer 2: device and architecture -----------------------------------------------------------------------
def needs_model_checks(kick: KickConfig, plans: Iterable[CompressionPlan]) -> bool:
    """Whether `check_model` has anything to check (it costs importing torch and transformers)."""
    layers = kick.compression.layers
    shaped = any(_shape_rules(p) for p in plans if not p.whole)
    local_gpu = kick.load.device.startswith("cuda") and not kick.load.remote  # Ray replicas' GPUs are checked as they start
    return local_gpu or shaped or bool(layers.targets or layers.skip_first or layers.skip_last)


def _shape_rules(plan: CompressionPlan) -> list[tuple[str, int]]:
    """(what, width): the input width every selected layer must be a multiple of."""
    rules = []
    group = getattr(plan.spec, "group_size", None)
    if group:
        rules.append((f"group size {group}", group))
    m = getattr(plan.spec, "m", None)
    if m:
        rules.append((f"N:M block of {m}", m))
    return rules


def check_model(kick: KickConfig, plans: Iterable[CompressionPlan]) -> None:
    """The device exists; every method's layer selection selects something and fits its shape rules."""
    from ..models.devices import resolve_device

    if not kick.load.remote:  # with --kick-ray the device is the replicas': checked when they start
        resolve_device(kick.load.device)
    plans = [p for p in plans if not p.whole]
    layers = kick.compression.layers
    if not plans or not (any(_shape_rules(p) for p in plans) or layers.targets or layers.skip_first or layers.skip_last):
        return
    from ..compression.layers import target_linears

    model = meta_model(kick.model, kick.load.trust_remote_code)
    if model is None:
        return
    selected = target_linears(model, layers)
    for plan in plans:
        for what, width in _shape_rules(plan):
            for name, module in selected:
                if module.in_features % width:
                    fits = sorted({g for g in (32, 64, 128, 256) if all(m.in_features % g == 0 for _, m in selected)})
                    hint = f"sizes that fit every selected layer: {', '.join(map(str, fits))}" if fits else "narrow --kick-targets"
                    raise KickUsageError(
                        f"--kick-method={plan.spec.id}: the {what} does not divide layer {name} ({module.in_features} inputs); {hint}."
                    )


def meta_model(source: ModelSource, trust_remote_code: bool = False):
    """The model's module tree from its config alone, on the meta device: names and shapes, no weights."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    try:
        if source.kind in ("alias", "gguf"):
            gguf = smollm2_gguf_path() if source.kind == "alias" else Path(source.ref)
            config = AutoConfig.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        else:
            config = AutoConfig.from_pretrained(source.ref, trust_remote_code=trust_remote_code)
        with torch.device("meta"):
            return AutoModelForCausalLM.from_config(config, trust_remote_code=trust_remote_code)
    except Exception as exc:
        if trust_remote_code:  # a model's own code may not build on the meta device: checked when it compresses
            return None
        name = DEFAULT_MODEL if source.kind == "alias" else source.ref
        raise KickUsageError(
            f"--kick-model {name}: could not build the model's architecture from its configuration to check the "
            f"layer options ({type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''})."
        ) from None
