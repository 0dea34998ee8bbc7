"""The project's own exception types: every expected failure is one of these.

Entry points (the CLI, the dashboard pages) catch :class:`TuningError` and show its
message as is; the message names the problem and says the fix.
"""

from __future__ import annotations


class TuningError(Exception):
    """An expected failure whose message is meant for the user."""


class SpecError(TuningError):
    """The experiment spec is invalid: a field has a bad name, type or value."""

    def __init__(self, field: str, problem: str, fix: str = "") -> None:
        self.field = field
        message = f"{field}: {problem}" if field else problem
        if fix:
            message = f"{message}. {fix}"
        super().__init__(message)


class DataError(TuningError):
    """The data cannot be used for this experiment."""


class SearchFailed(TuningError):
    """Every fit of the search failed, so there is no result to show."""


def sentence(text: object) -> str:
    """Text (or an exception's message) ready to be followed by ``. Fix...`` or ``)``: one line,
    without its own final full stop, so that messages never read "preprocessed.. Check"."""
    return " ".join(str(text).split()).rstrip(".").rstrip()


def describe_value(value: object) -> str:
    """Show a bad value and its type the way error messages quote it."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


class StoreError(TuningError):
    """The experiment store file cannot be used (damaged, read-only, locked or not a store)."""


class ExperimentNotFound(TuningError):
    """No experiment with this id (or id prefix) is in the store."""

    def __init__(self, message: str, exp_id: str) -> None:
        self.exp_id = exp_id
        super().__init__(message)
