"""Benchmarks (not tests): run ``python bench/run.py --db postgres``."""
