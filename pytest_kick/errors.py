"""Exception hierarchy: usage errors, missing backends, and regressions (which are AssertionErrors)."""

from __future__ import annotations


class KickError(Exception):
    """Root of every error pytest-kick raises on purpose."""


class KickUsageError(KickError, ValueError):
    """Bad input from the user: an option, a spec, a data file. The message says how to fix it."""


class MissingBackend(KickError, ImportError):
    """An optional package is needed; the message names the exact pip command."""


class KickRegression(KickError, AssertionError):
    """A gate failed: the compressed model regressed beyond what the test allows. An AssertionError, so pytest
    reports it as a failed test (not an error); a KickError, so `except KickError` sees every deliberate raise."""

    def __init__(self, message: str, result: object = None) -> None:
        super().__init__(message)
        self.result = result


class AccuracyRegression(KickRegression):
    """The paired non-inferiority test could not show accuracy within the allowed drop."""


class FidelityRegression(KickRegression):
    """The compressed model could not be shown to answer like the dense one (flips, KL, top-1 agreement)."""


class SafetyRegression(KickRegression):
    """A safety gate (bias, toxicity, dialect gap, perplexity) found a regression beyond what the test allows."""


class QualityRegression(KickRegression):
    """The compressed model's generations could not be shown to score within the allowed drop."""
