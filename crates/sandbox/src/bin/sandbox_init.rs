//! The sandbox helper as a binary of its own, for the sandbox crate's tests; the server runs
//! the same code as `flicker sandbox-init`.

fn main() {
    flicker_sandbox::namespace::run_helper();
}
