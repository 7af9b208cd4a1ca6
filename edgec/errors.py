"""User-facing errors.

Every problem a user can cause (bad model, unsupported op, wrong shape, bad
serial port, ...) is raised as an ``EdgecError`` subclass with a one-line
message that says what is wrong and what to do.  The CLI prints it and exits
with status 2; ``--debug`` shows the traceback.
"""


class EdgecError(Exception):
    """A problem with the user's input or environment (exit code 2)."""

    exit_code = 2


class ModelError(EdgecError):
    """The model file cannot be read or uses something edgec does not support."""


class UnsupportedError(ModelError):
    """The model uses ops or constructs edgec does not support (all listed at once)."""

    def __init__(self, problems: list[str], source: str = "model"):
        self.problems = list(problems)
        super().__init__(
            f"{source} uses {len(self.problems)} unsupported construct(s): "
            + "; ".join(self.problems)
            + " — replace or remove them before exporting the model"
        )


class BuildError(EdgecError):
    """Code generation or compilation failed, or the model does not fit the target."""


class DeviceError(EdgecError):
    """The device link failed (port, emulator, protocol)."""
