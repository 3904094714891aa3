"""Simulated callers for demos, tests and benchmarks."""
