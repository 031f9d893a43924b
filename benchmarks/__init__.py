"""Measurements of the package: speed, memory and arithmetic of training
and inference, ONNX and video throughput. Not installed with the package;
run the scripts from a checkout (``python benchmarks/benchmark.py ...``).
They import :mod:`promptpose_mm`; nothing in the package imports them."""
