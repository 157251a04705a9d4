"""Errors that users can act on.

Library code raises these; only the CLI turns them into one line on stderr and exit code 2, so that
nothing deeper in the stack ever prints or exits.
"""
from __future__ import annotations


class AsgbenchError(Exception):
    """Base of every error that asgbench reports to the user as one line."""

    exit_code = 2


class UnknownNameError(AsgbenchError, KeyError):
    """A registry lookup (dataset, model, task, ...) that matched nothing."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class DataLayoutError(AsgbenchError):
    """A dataset root, metadata file or label file is missing or not in the expected layout."""


class ImageDecodeError(AsgbenchError):
    """An image file exists but cannot be decoded into pixels."""


class ConfigError(AsgbenchError):
    """A configuration value, option combination or environment setting is invalid."""


class MissingDependencyError(AsgbenchError):
    """An optional package that this feature needs is not installed."""
