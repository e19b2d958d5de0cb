"""Looking at runs without a server: curves in the terminal (``tracelet show``) and a
self-contained HTML report (``tracelet report``), both read from the local run folder."""
