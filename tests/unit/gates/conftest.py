"""The gates' operating characteristics are simulated by benchmarks/simulate.py (a tool for tests and benchmarks,
not shipped): its folder is importable here."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
