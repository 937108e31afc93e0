"""Benchmarks behind `mealtwin bench ...`: each measures and returns one JSON-ready dict."""
