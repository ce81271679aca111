"""Deployment packages of the test functions in this directory.

Each subdirectory is one package: `package("python/basic")` returns its files as a dict for
`conftest.make_zip`, with every file named `bootstrap` marked executable."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent


def package(directory, **extra_files):
    """Return the files under `directory` (relative to this folder) keyed by their path in the
    zip, plus `extra_files`, which may add or replace entries."""
    base = ROOT / directory
    files = {}
    for path in sorted(base.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        name = path.relative_to(base).as_posix()
        content = path.read_bytes()
        files[name] = (content, 0o755) if path.name == "bootstrap" else content
    files.update(extra_files)
    return files
