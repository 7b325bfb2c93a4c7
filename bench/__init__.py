"""Benchmarks of sprechzimmer; run from the repository root (``python -m bench.call_setup``)."""
