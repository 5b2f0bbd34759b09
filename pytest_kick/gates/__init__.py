"""The gates wing: the one gate skeleton, each gate (accuracy, fidelity, generation quality, safety), their typed
results, the statistics they decide with, and the scorers of free text (ROUGE, judges)."""
