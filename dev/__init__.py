"""Development instruments: studies and benchmarks of internals (run as ``python dev/<name>.py``);
a package so that tests can import them."""
