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
