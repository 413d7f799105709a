"""Errors raised for a user's bad stimulus input."""


class ManifestError(ValueError):
    """A manifest or its files are unusable; ``problems`` lists every problem found."""

    def __init__(self, path, problems):
        self.path = str(path)
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))

    def lines(self):
        """One line per problem, each naming the manifest."""
        return [f"{self.path}: {p}" for p in self.problems]


def internal_error_line(program: str, command: str, exc: BaseException) -> str:
    """One line for a fault of the toolkit itself (not a user's mistake); its traceback goes to a new temporary file.

    Shared by the ``stimuli``, ``paradigm`` and ``analysis`` command lines; call it inside the ``except``.
    """
    import tempfile
    import traceback

    with tempfile.NamedTemporaryFile("w", prefix=f"{program}-error-", suffix=".log", delete=False) as fh:
        traceback.print_exc(file=fh)
    first = str(exc).splitlines()[0] if str(exc) else ""
    return (f"{program} {command}: internal error ({type(exc).__name__}: {first}); please report this with the "
            f"traceback in {fh.name}")
