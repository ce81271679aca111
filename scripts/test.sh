#!/usr/bin/env bash
# Builds Flicker and runs every test: the Rust unit and crate tests, then the integration
# suite, which starts real servers and drives them with boto3 and the AWS CLI.
# Set-up it does by itself: a Python virtual environment in .venv with the pinned test
# packages. Extra arguments go to pytest, for example: scripts/test.sh -k invoke
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ] || ! cmp -s tests/requirements.txt .venv/requirements.txt; then
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
    cp tests/requirements.txt .venv/requirements.txt
fi

cargo fmt --all -- --check
cargo build --release --workspace --bins
cargo clippy --release --workspace --all-targets -- -D warnings
cargo test --release --workspace
# Checks that every benchmark runs; the figures of a quick run are not recorded.
target/release/flicker-bench --quick --markdown target/bench-quick.md --json target/bench-quick.json

export PATH="$PWD/.venv/bin:$PATH"
exec .venv/bin/python -m pytest tests "$@"
