"""Shared settings for the release gate. The pytest-kick plugin is loaded through its entry point; nothing to do.

Teams usually keep their tolerances here, next to the tests that use them."""

# Largest accuracy drop (absolute) we accept for a release, per kind of knowledge.
KNOWLEDGE_MAX_DROP = 0.10
REASONING_MAX_DROP = 0.10
