"""The report wing: the run report as data (JSON schema), saved runs and their comparison, trends, the HTML page."""
