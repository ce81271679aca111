"""Entry script of Flicker's Python runtime client.

Flicker runs `python3.X <LAMBDA_RUNTIME_DIR>/bootstrap.py` in each Python
execution environment. The client itself is the module flicker_runtime.py in
the same directory, which Flicker must install next to this file.

This script stays small because CPython compiles the script it runs on every
start and never caches its bytecode: compiling the whole client took 2.4 ms
against 9.7 ms for a bare `python3.11 -c pass`. An imported module is cached
in __pycache__ when its directory is writable.
"""

import os
import sys

_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))
# sys.path[0] is this directory, unless PYTHONSAFEPATH or -P (Python 3.11+) left it out.
if _RUNTIME_DIR not in sys.path:
    sys.path.insert(0, _RUNTIME_DIR)

import flicker_runtime  # noqa: E402

flicker_runtime.main()
