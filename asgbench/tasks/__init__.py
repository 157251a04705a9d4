"""Evaluation tasks and protocols: task registry, data, linear probe, zero-shot, segmentation, metrics."""
