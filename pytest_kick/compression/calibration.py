"""Calibration data for GPTQ, AWQ, SparseGPT and Wanda: token windows drawn, with a seed, from one text source."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import KickUsageError

BUILTIN_TEXT = Path(__file__).resolve().parents[1] / "data" / "calibration" / "general.txt"
WIKITEXT_DIR = "wikitext-2-raw"
WIKITEXT_FILES = ("wiki.train.raw", "wiki.test.raw")  # the train split when present; the test split otherwise


@dataclass(frozen=True)
class Calibration:
    """`samples` windows of `seqlen` tokens from `source`: 'builtin', 'wikitext2' (from the data dir) or a file."""

    samples: int = 128
    seqlen: int = 512
    source: str = "builtin"

    def resolve(self, data_dir: Path | None) -> Path:
        """The text file the windows come from; a clear error when it is missing or empty."""
        if self.source == "builtin":
            path = BUILTIN_TEXT
        elif self.source == "wikitext2":
            if data_dir is None:
                raise KickUsageError(
                    "--kick-calib-data=wikitext2 reads DATA_DIR/wikitext-2-raw/wiki.train.raw (or wiki.test.raw): "
                    "pass --kick-data-dir, or give a text file path instead."
                )
            found = [Path(data_dir, WIKITEXT_DIR, f) for f in WIKITEXT_FILES if Path(data_dir, WIKITEXT_DIR, f).is_file()]
            if not found:
                raise KickUsageError(
                    f"--kick-calib-data=wikitext2: neither {' nor '.join(WIKITEXT_FILES)} is in {Path(data_dir, WIKITEXT_DIR)}."
                )
            path = found[0]
        else:
            path = Path(self.source).expanduser()
            if not path.is_file():
                raise KickUsageError(f"--kick-calib-data {self.source}: no such file (expected builtin, wikitext2 or a text file).")
        head = path.read_bytes()[: 1 << 16]
        try:
            head.decode("utf-8")
            binary = b"\0" in head
        except UnicodeDecodeError as exc:
            binary = exc.start < len(head) - 4  # not a multi-byte character cut at the sample's end
        if binary:
            raise KickUsageError(
                f"--kick-calib-data: {path} is not a UTF-8 text file (it looks binary); give plain text to draw "
                "calibration windows from, e.g. --kick-calib-data=wikitext2 or a .txt file."
            )
        if not path.read_text(encoding="utf-8", errors="replace").strip():
            raise KickUsageError(f"--kick-calib-data: the calibration file {path} is empty; give a file with text in it.")
        return path

    def key(self, data_dir: Path | None) -> dict:
        """What the calibration windows depend on (with the tokenizer, which the dense fingerprint covers)."""
        path = self.resolve(data_dir)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:20]
        return {"samples": self.samples, "seqlen": self.seqlen, "source": self.source, "sha256": digest}


def calibration_windows(tokenizer: Any, cal: Calibration, data_dir: Path | None, seed: int) -> list[list[int]]:
    """`cal.samples` windows of `cal.seqlen` token ids starting at seeded random offsets (GPTQ's recipe).

    A text shorter than one window is an error; a text shorter than samples x seqlen gives overlapping windows."""
    path = cal.resolve(data_dir)
    ids = tokenizer(path.read_text(encoding="utf-8", errors="replace"), add_special_tokens=False)["input_ids"]
    if len(ids) <= cal.seqlen:
        raise KickUsageError(
            f"--kick-calib-data: {path} has {len(ids)} tokens, not more than one window of --kick-calib-seqlen="
            f"{cal.seqlen}; lower the sequence length or give more text."
        )
    rng = random.Random(seed)
    starts = [rng.randrange(0, len(ids) - cal.seqlen) for _ in range(cal.samples)]
    return [ids[s : s + cal.seqlen] for s in starts]
