"""The --kick-* options as plain data (flag, ini key, help, default): all pytest needs at start-up to list and
register them, so a session that never asks for a kick fixture imports no parser. Their parsers: `options.PARSERS`."""

from __future__ import annotations

from dataclasses import dataclass

from ..sources import DEFAULT_MODEL

DEFAULT_METHODS = "rtn8"
DEFAULT_SEED = 1234


@dataclass(frozen=True)
class Option:
    flag: str
    ini: str
    help: str
    default: str | None
    kind: str = "string"  # "string", or "flag": a command-line switch whose ini twin is a truth value


OPTIONS = (
    Option(
        "--kick-model", "kick_model", f"dense model: hub id, local model dir, .gguf file, or '{DEFAULT_MODEL}' (default)", DEFAULT_MODEL
    ),
    Option(
        "--kick-method",
        "kick_method",
        f"comma-separated compression specs, e.g. rtn4,magnitude50 (default {DEFAULT_METHODS})",
        DEFAULT_METHODS,
    ),
    Option(
        "--kick-sweep",
        "kick_sweep",
        "find the most compressed method that passes every gate: one knob in braces, least compressed first, e.g. "
        "rtn{8,6,4,3}-g128 or magnitude{20..70:10} (sweeps separated by ';'); searched by bisection, replaces --kick-method",
        None,
    ),
    Option(
        "--kick-compressed", "kick_compressed", "an already-compressed checkpoint (dir or .gguf) to test instead of compressing here", None
    ),
    Option(
        "--kick-pair-any",
        "kick_pair_any",
        "accept a --kick-compressed model whose tokenizer or architecture differs from --kick-model's (a deliberate "
        "pairing; the summary says it was not checked)",
        "false",
        "flag",
    ),
    Option(
        "--kick-backend",
        "kick_backend",
        "auto|builtin|llmcompressor|gptqmodel|bitsandbytes (default auto: the best installed for each method)",
        "auto",
    ),
    Option(
        "--kick-calib-data",
        "kick_calib_data",
        "calibration text: builtin (default), wikitext2 (from --kick-data-dir) or a text file",
        "builtin",
    ),
    Option("--kick-calib-samples", "kick_calib_samples", "calibration windows (default 128)", "128"),
    Option("--kick-calib-seqlen", "kick_calib_seqlen", "tokens per calibration window (default 512)", "512"),
    Option(
        "--kick-targets",
        "kick_targets",
        "comma-separated module patterns to compress, e.g. mlp or q_proj,v_proj (default: every linear layer but the LM head)",
        None,
    ),
    Option("--kick-skip-first", "kick_skip_first", "leave the first N transformer blocks uncompressed (default 0)", "0"),
    Option("--kick-skip-last", "kick_skip_last", "leave the last N transformer blocks uncompressed (default 0)", "0"),
    Option("--kick-device", "kick_device", "auto|cpu|cuda|cuda:N (default auto: this process's GPU when there is one)", "auto"),
    Option("--kick-dtype", "kick_dtype", "auto|float32|bfloat16|float16 (auto: float32 on CPU, bfloat16 on GPU)", "auto"),
    Option(
        "--kick-gpus",
        "kick_gpus",
        "GPUs to share among xdist workers, e.g. 0,1,2,3 (default: CUDA_VISIBLE_DEVICES); worker gwN sees only its share",
        None,
    ),
    Option(
        "--kick-gpus-per-worker",
        "kick_gpus_per_worker",
        "GPUs in each worker's share, for models that need several (loaded with a device map across them; default 1)",
        "1",
    ),
    Option(
        "--kick-limit",
        "kick_limit",
        "examples per task for accuracy gates, per group for safety gates (the first in a fixed hash order of their ids; default: all); "
        "a test's kick marker and an assertion's limit= win over it",
        None,
    ),
    Option(
        "--kick-scope",
        "kick_scope",
        "what a verdict generalizes to: benchmark (default: the benchmark's own items; every item run is exact), "
        "items (items drawn from a wider population) or clusters (templates, targets, prompts drawn from a wider one); "
        "a gate's scope= wins over it",
        "benchmark",
    ),
    Option(
        "--kick-sequential",
        "kick_sequential",
        "accuracy gates evaluate their examples in looks and stop at the first look that decides (group-sequential, "
        "alpha spent O'Brien-Fleming): off (default), on (4 looks) or a number of looks, 2 to 20; a gate's "
        "sequential= wins over it",
        "off",
    ),
    Option(
        "--kick-fail-fast",
        "kick_fail_fast",
        "once a gate shows a method regressed, skip that method's remaining kick tests in the run (the reason names "
        "the test that showed it; xdist workers share it)",
        "false",
        "flag",
    ),
    Option("--kick-batch-size", "kick_batch_size", "N or auto (default auto: a token budget per forward)", "auto"),
    Option(
        "--kick-seed",
        "kick_seed",
        f"seed for compression (calibration windows) and sampled generations, 0 to 2**32-1 (default {DEFAULT_SEED}); "
        "never which examples a limit keeps",
        str(DEFAULT_SEED),
    ),
    Option("--kick-data-dir", "kick_data_dir", "root with one folder per benchmark (DIR/mmlu, DIR/freebaseqa, ...)", None),
    Option(
        "--kick-toxicity-scorer",
        "kick_toxicity_scorer",
        "toxicity scorer for realtoxicityprompts/bold: a local Hugging Face sequence-classification dir, "
        "or 'profanity-check' (default, offline)",
        None,
    ),
    Option(
        "--kick-cache-dir",
        "kick_cache_dir",
        "cache for converted and compressed models and per-example results, or 'none' "
        "(default $PYTEST_KICK_CACHE, else ~/.cache/pytest-kick)",
        None,
    ),
    Option(
        "--kick-judge",
        "kick_judge",
        "a judge for generation gates: an OpenAI-compatible endpoint URL (with --kick-judge-model), or a local model "
        "(dir, .gguf, hub id or alias)",
        None,
    ),
    Option("--kick-judge-model", "kick_judge_model", "the model name to ask at the --kick-judge endpoint", None),
    Option(
        "--kick-judge-key-env",
        "kick_judge_key_env",
        "the NAME of the environment variable holding the judge endpoint's key (default OPENAI_API_KEY; never the key)",
        None,
    ),
    Option(
        "--kick-judge-prompt",
        "kick_judge_prompt",
        "judge prompt: a name (pairwise-scores, summary-scores) or PATH:NAME of a JSONL file (e.g. FastChat's judge_prompts.jsonl)",
        None,
    ),
    Option("--kick-judge-timeout", "kick_judge_timeout", "seconds the judge endpoint may take per request (default 120)", "120"),
    Option("--kick-judge-retries", "kick_judge_retries", "retries of a failed judge request (default 3; 0: none)", "3"),
    Option("--kick-judge-concurrency", "kick_judge_concurrency", "judge requests sent at once (default 4)", "4"),
    Option(
        "--kick-judge-budget",
        "kick_judge_budget",
        "seconds the judge endpoint may take over the whole run; then its queued requests are cancelled (default: no limit)",
        None,
    ),
    Option(
        "--kick-judge-max-tokens",
        "kick_judge_max_tokens",
        "tokens a judge may write per verdict (default 256; the verdict's scores come first, so 32 is enough for 'scores' prompts)",
        "256",
    ),
    Option(
        "--kick-save", "kick_save", "save this run's per-example outcomes as .kick/NAME.json (in the rootdir) for later comparison", None
    ),
    Option(
        "--kick-compare",
        "kick_compare",
        "compare each gate with a saved run (NAME in .kick/, or a path): the same paired test between this "
        "compressed model and the saved one",
        None,
    ),
    Option(
        "--kick-compare-fail",
        "kick_compare_fail",
        "fail a test whose comparison with the saved run is not shown within its allowance",
        "false",
        "flag",
    ),
    Option(
        "--kick-html", "kick_html", "write the run as one self-contained HTML page (tables, flipped examples, plots) to this path", None
    ),
    Option(
        "--kick-markdown",
        "kick_markdown",
        "write the run as Markdown (verdict per gate, failing groups, examples lost) to this path: a CI job page or a pull-request comment",
        None,
    ),
    Option(
        "--kick-ray",
        "kick_ray",
        "evaluate on a Ray cluster: local (start one here), auto (join the running one) or HOST:PORT / ray://HOST:PORT",
        None,
    ),
    Option(
        "--kick-ray-replicas",
        "kick_ray_replicas",
        "model replicas (Ray actors) per model (default: as many as the cluster fits, shared among xdist workers)",
        None,
    ),
    Option("--kick-ray-gpus-per-replica", "kick_ray_gpus_per_replica", "GPUs each replica asks for (default 0: CPU replicas)", "0"),
    Option("--kick-ray-cpus-per-replica", "kick_ray_cpus_per_replica", "CPUs each replica asks for (default 1)", "1"),
    Option("--kick-report", "kick_report", "write the whole run (every gate, group and number) as JSON to this path", None),
    Option("--kick-trust-remote-code", "kick_trust_remote_code", "allow model code from the hub (off by default)", "false", "flag"),
)
