"""asgbench: benchmark, evaluation harness and pre-training kit for chest X-ray vision-language models."""
from __future__ import annotations

__version__ = "0.1.0"
