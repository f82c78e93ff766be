"""The Python benchmark harness's parts: adapters (impls), workloads and runner, memory, report.

Run it through ``benches/harness.py``.
"""
