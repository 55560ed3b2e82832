"""Benchmarks run by `make bench`: they print numbers and ratios measured in the same run."""
