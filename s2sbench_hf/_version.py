"""The package's version, in one place: the package face re-exports it, pyproject.toml reads it
(``[tool.setuptools.dynamic]``), and modules that need only the version import it from here, not the face."""

__version__ = "0.1.0"
