"""Benchmarks of training, inference, the app and its uploads.

Each is run as `python -m benchmarks.NAME` from the repository root.
"""
