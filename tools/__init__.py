"""Command-line tools (run as ``python tools/<name>.py``); a package so that tests can import them."""
