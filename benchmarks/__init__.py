"""Benchmarks run by ``make bench``: each prints a table with ratios against a baseline."""
