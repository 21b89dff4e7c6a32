"""Benchmarks: mockdrive side by side with baselines measured in the same run.

``python -m benchmarks [--quick]`` runs them all; each module also runs alone
(``python benchmarks/throughput.py``). Each prints a table and writes JSON to
``benchmarks/results/``. Nothing here asserts on timing.
"""
