"""Synthetic landing data for demos, tests and benchmarks."""
