"""KickConfig: every --kick-* option (or its ini twin) parsed once, by one small function each, into a frozen
object kept in config.stash; it hands out the settings each part needs (loading, evaluation, compression)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..compression import Calibration, CompressionSettings, CompressionSpec, LayerSelection
from ..compression.plan import CompressionPlan, plan_method
from ..errors import KickUsageError
from ..settings import EvalSettings, JudgeSpec, LoadSettings, RaySettings
from ..sources import ModelSource
from .options import PARSERS, Value
from .optiontable import OPTIONS, Option

__all__ = ["OPTIONS", "KickConfig", "Value", "option_values"]


@dataclass(frozen=True)
class KickConfig:
    """Every option, parsed. Parts take their settings from it whole: `load` (how models load), `evaluation`
    (how gates evaluate), `compression` (how models are compressed) and `plans` (one per method, resolved)."""

    model: ModelSource
    plans: tuple[CompressionPlan, ...]
    load: LoadSettings = field(default_factory=LoadSettings)
    evaluation: EvalSettings = field(default_factory=EvalSettings)
    compression: CompressionSettings = field(default_factory=CompressionSettings)
    gpus: tuple[str, ...] | None = None
    report: Path | None = None
    html: Path | None = None
    markdown: Path | None = None
    save: str | None = None
    compare: str | None = None
    compare_fail: bool = False
    ray: RaySettings | None = None
    pair_any: bool = False  # --kick-pair-any: a --kick-compressed model is not checked against --kick-model
    fail_fast: bool = False  # --kick-fail-fast: a method shown regressed skips its remaining kick tests
    sweeps: tuple = ()  # --kick-sweep: the frontier's sweeps (session.sweep.Sweep); their candidates are the methods
    _marker_plans: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def methods(self) -> tuple[CompressionSpec, ...]:
        return tuple(p.spec for p in self.plans)

    def plan(self, spec: CompressionSpec) -> CompressionPlan:
        """The plan of a configured method, or of a test's own (kick marker) method, resolved the same way."""
        for p in self.plans:
            if p.spec == spec:
                return p
        if spec not in self._marker_plans:
            self._marker_plans[spec] = plan_method(spec, self.compression)
        return self._marker_plans[spec]

    @classmethod
    def from_values(cls, get: Callable[[str], Any], base: Path = Path(".")) -> KickConfig:
        """Build from a lookup `ini name -> raw value or Value` (command line or ini, already merged); raises
        KickUsageError for the first bad value."""
        raw = {opt.ini: _as_value(get(opt.ini), base, opt.flag) for opt in OPTIONS}
        v = {opt.ini: _parse(opt, raw[opt.ini]) for opt in OPTIONS if opt.ini not in ("kick_method", "kick_compressed")}
        compressed = _parse(OPTION["kick_compressed"], raw["kick_compressed"])
        methods = (compressed,) if compressed else _parse(OPTION["kick_method"], raw["kick_method"])
        if v["kick_sweep"] is not None:
            on_command_line = raw["kick_method"].given and raw["kick_method"].origin == "--kick-method"
            if compressed or on_command_line:  # the kick_method ini value is what a sweep replaces
                raise KickUsageError("--kick-sweep chooses the methods itself: give it without --kick-method or --kick-compressed")
            methods = tuple(spec for sweep in v["kick_sweep"] for spec in sweep.candidates)
        if v["kick_gpus"] is not None and len(v["kick_gpus"]) < (v["kick_gpus_per_worker"] or 1):
            from ..models.devices import gpu_share

            gpu_share(v["kick_gpus"], 0, v["kick_gpus_per_worker"])  # raises, naming both options
        ray = _ray_settings(v)
        compression = CompressionSettings(
            backend=v["kick_backend"],
            calibration=Calibration(v["kick_calib_samples"] or 128, v["kick_calib_seqlen"] or 512, v["kick_calib_data"]),
            layers=LayerSelection(v["kick_targets"], v["kick_skip_first"], v["kick_skip_last"]),
            seed=v["kick_seed"],
            data_dir=v["kick_data_dir"],
        )
        return cls(
            model=v["kick_model"],
            plans=tuple(plan_method(spec, compression) for spec in methods),
            load=LoadSettings(
                device=ray.device if ray else v["kick_device"],
                remote=ray is not None,
                dtype=v["kick_dtype"],
                cache_dir=v["kick_cache_dir"],
                trust_remote_code=v["kick_trust_remote_code"],
                gpus_per_worker=v["kick_gpus_per_worker"] or 1,
            ),
            evaluation=EvalSettings(
                data_dir=v["kick_data_dir"],
                limit=v["kick_limit"],
                seed=v["kick_seed"],
                scope=v["kick_scope"],
                sequential=v["kick_sequential"],
                batch_size=v["kick_batch_size"],
                cache_dir=v["kick_cache_dir"],
                toxicity_scorer=v["kick_toxicity_scorer"],
                judge=_judge_spec(v, raw),
            ),
            compression=compression,
            gpus=v["kick_gpus"],
            report=v["kick_report"],
            html=v["kick_html"],
            markdown=v["kick_markdown"],
            save=v["kick_save"],
            compare=v["kick_compare"],
            compare_fail=v["kick_compare_fail"],
            pair_any=v["kick_pair_any"],
            fail_fast=v["kick_fail_fast"],
            sweeps=v["kick_sweep"] or (),
            ray=ray,
        )


OPTION = {opt.ini: opt for opt in OPTIONS}


def _ray_settings(v: dict) -> RaySettings | None:
    """--kick-ray and its companions; under Ray the replicas' device is the one results are computed (and keyed) on."""
    if v["kick_ray"] is None:
        return None
    ray = RaySettings(v["kick_ray"], v["kick_ray_replicas"], v["kick_ray_gpus_per_replica"], v["kick_ray_cpus_per_replica"])
    if v["kick_device"] not in ("auto", ray.device):
        raise KickUsageError(
            f"--kick-device={v['kick_device']} with --kick-ray: replicas compute on {ray.device} "
            f"(--kick-ray-gpus-per-replica={ray.gpus_per_replica:g}); Ray assigns each replica its GPUs, so leave --kick-device at auto."
        )
    return ray


def _judge_spec(v: dict, raw: dict) -> JudgeSpec | None:
    """--kick-judge and its companions, checked together: an endpoint needs a model name; a local judge is any
    --kick-model reference; a key variable named on purpose must be set."""
    import os

    from ..gates.judges import public_url
    from .options import _model

    target, model = v["kick_judge"], v["kick_judge_model"]
    if target is None:
        return None
    prompt = v["kick_judge_prompt"] or "pairwise-scores"
    client = {
        "timeout": v["kick_judge_timeout"] or 120.0,
        "retries": v["kick_judge_retries"],
        "concurrency": v["kick_judge_concurrency"] or 4,
        "budget": v["kick_judge_budget"],
        "max_new_tokens": v["kick_judge_max_tokens"] or 256,
    }
    if "://" in target and not target.startswith(("http://", "https://")):
        raise KickUsageError(f"--kick-judge {public_url(target)}: an endpoint URL starts with http:// or https://")
    if target.startswith(("http://", "https://")):
        if not model:
            raise KickUsageError(
                f"--kick-judge {public_url(target)}: name the model to ask with --kick-judge-model "
                "(e.g. gpt-4o, or the served model's path)"
            )
        if raw["kick_judge_key_env"].given and v["kick_judge_key_env"] not in os.environ:
            raise KickUsageError(f"--kick-judge-key-env: the environment variable {v['kick_judge_key_env']} is not set")
        return JudgeSpec(model, target, v["kick_judge_key_env"], prompt, **client)
    try:
        source = _model(raw["kick_judge"])
    except KickUsageError as exc:
        raise KickUsageError(f"--kick-judge: {exc}".replace("--kick-model ", "")) from None
    return JudgeSpec(source.ref, None, v["kick_judge_key_env"], prompt, **client)


def _parse(opt: Option, value: Value) -> Any:
    """One option's parser; an error about a value from the ini file says so, naming the key and its option."""
    try:
        return PARSERS[opt.ini](value)
    except KickUsageError as exc:
        if value.origin.startswith(opt.ini):  # "kick_x in pytest.ini"
            raise KickUsageError(f"{opt.ini} = {value.text!r} ({value.origin}; the ini twin of {opt.flag}): {exc}") from None
        if opt.kind == "flag":
            raise KickUsageError(f"{opt.flag}: {exc}") from None
        raise


def _as_value(raw: Any, base: Path, flag: str) -> Value:
    return raw if isinstance(raw, Value) else Value(raw, base, flag)


def option_values(cli: Mapping[str, Any], ini: Mapping[str, Any], cli_dir: Path, ini_dir: Path, ini_name: str) -> dict[str, Value]:
    """Merge the command line over the ini file, remembering for each value where it came from."""
    out = {}
    for opt in OPTIONS:
        if cli.get(opt.ini) is not None:
            out[opt.ini] = Value(cli[opt.ini], cli_dir, opt.flag)
        else:
            out[opt.ini] = Value(ini.get(opt.ini), ini_dir, f"{opt.ini} in {ini_name}")
    return out
