"""The session wing: one pytest run's life — options and their parsing, the frozen KickConfig, start-up checks,
the `kick` marker, and the report written at the end. Only `pytest_kick.plugin` (and the package door) imports it."""
