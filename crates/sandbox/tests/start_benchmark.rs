//! Measures how long an environment takes from `start` to the bootstrap's first Runtime API
//! request, for a bare child process, the process sandbox and the namespace sandbox, and what a
//! freeze plus thaw costs. Needs root for the namespace sandbox's cgroups. Run with
//! `cargo test --release -p flicker-sandbox --test start_benchmark -- --ignored --nocapture`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use flicker_sandbox::namespace::{CpuLimit, HelperCommand, NetworkMode};
use flicker_sandbox::{
    EnvironmentSpec, HostDirs, NamespaceConfig, NamespaceSandbox, ProcessSandbox, Sandbox,
};
use tokio::io::AsyncReadExt;

const RUNS: usize = 50;

/// A bootstrap in bash that sends `GET .../invocation/next` and waits for the response.
const BOOTSTRAP: &str = r#"exec 3<>/dev/tcp/${AWS_LAMBDA_RUNTIME_API%:*}/${AWS_LAMBDA_RUNTIME_API#*:}
printf 'GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: runtime\r\n\r\n' >&3
read -r line <&3"#;

fn spec(dir: &std::path::Path, id: usize) -> EnvironmentSpec {
    EnvironmentSpec {
        id: format!("bench-{}-{id}", std::process::id()),
        host: HostDirs {
            task_root: dir.join("task"),
            runtime_dir: dir.join("runtime"),
            opt_dir: dir.join("opt"),
        },
        program: "/bin/bash".into(),
        args: vec!["-c".into(), BOOTSTRAP.into()],
        working_dir: "/".into(),
        env: BTreeMap::new(),
        memory_mb: 128,
        ephemeral_storage_mb: 512,
    }
}

/// Waits for the first request on `listener` and returns when its headers have arrived.
async fn first_request(listener: std::net::TcpListener) -> tokio::net::TcpStream {
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    let (mut stream, _) = listener.accept().await.unwrap();
    let mut received = Vec::new();
    let mut buffer = [0u8; 1024];
    while !received.windows(4).any(|window| window == b"\r\n\r\n") {
        let read = stream.read(&mut buffer).await.unwrap();
        assert!(read > 0, "the bootstrap closed the connection");
        received.extend_from_slice(&buffer[..read]);
    }
    stream
}

async fn time_sandbox(sandbox: &dyn Sandbox, dir: &std::path::Path, run: usize) -> Duration {
    let started = Instant::now();
    let environment = sandbox.start(spec(dir, run)).unwrap();
    let stream = first_request(environment.runtime_api).await;
    let elapsed = started.elapsed();
    drop(stream);
    environment.control.kill();
    let mut exited = environment.exited.clone();
    exited.wait_for(Option::is_some).await.unwrap();
    elapsed
}

/// Times the same bootstrap as a plain `tokio::process::Command`, with no sandbox code at all.
async fn time_bare(_dir: &std::path::Path) -> Duration {
    let started = Instant::now();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap();
    let mut child = tokio::process::Command::new("/bin/bash")
        .args(["-c", BOOTSTRAP])
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .spawn()
        .unwrap();
    let stream = first_request(listener).await;
    let elapsed = started.elapsed();
    drop(stream);
    child.kill().await.unwrap();
    elapsed
}

/// The helper under test: the crate's `flicker-sandbox-init`, or the binary named by
/// `FLICKER_BENCH_HELPER` (such as `target/release/flicker`) with `sandbox-init`.
fn helper() -> HelperCommand {
    match std::env::var_os("FLICKER_BENCH_HELPER") {
        Some(program) => HelperCommand { program: program.into(), args: vec!["sandbox-init".into()] },
        None => HelperCommand { program: env!("CARGO_BIN_EXE_flicker-sandbox-init").into(), args: vec![] },
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn millis(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark; run it on purpose, as root"]
async fn start_to_first_next() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["task", "runtime", "opt"] {
        std::fs::create_dir_all(dir.path().join(name)).unwrap();
    }
    let namespace = NamespaceSandbox::new(NamespaceConfig {
        state_dir: dir.path().join("sandbox"),
        helper: helper(),
        network: NetworkMode::Isolated,
        cpu_limit: CpuLimit::Weight,
    })
    .unwrap();

    let (mut bare, mut process, mut sandboxed) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..RUNS + 3 {
        let samples = (
            time_bare(dir.path()).await,
            time_sandbox(&ProcessSandbox, dir.path(), run).await,
            time_sandbox(&namespace, dir.path(), run).await,
        );
        // The first runs warm the page cache and are not counted.
        if run >= 3 {
            bare.push(samples.0);
            process.push(samples.1);
            sandboxed.push(samples.2);
        }
    }
    let (bare, process, sandboxed) = (median(bare), median(process), median(sandboxed));
    println!("| start to first `next` ({RUNS} runs, median) | time | ratio to bare |");
    println!("| --- | --- | --- |");
    for (name, value) in
        [("bare child process", bare), ("process sandbox", process), ("namespace sandbox", sandboxed)]
    {
        println!("| {name} | {} | {:.2} |", millis(value), value.as_secs_f64() / bare.as_secs_f64());
    }
    println!("namespace sandbox overhead over bare: {}", millis(sandboxed.saturating_sub(bare)));
    println!(
        "cgroup limits enforced: {}; helper: {}",
        namespace.enforces_cgroups(),
        helper().program.display()
    );
    namespace.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark; run it on purpose, as root"]
async fn freeze_and_thaw() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["task", "runtime", "opt"] {
        std::fs::create_dir_all(dir.path().join(name)).unwrap();
    }
    let namespace = NamespaceSandbox::new(NamespaceConfig {
        state_dir: dir.path().join("sandbox"),
        helper: helper(),
        network: NetworkMode::Isolated,
        cpu_limit: CpuLimit::Weight,
    })
    .unwrap();
    assert!(namespace.enforces_cgroups(), "freezing needs cgroups, which need root");
    let environment = namespace.start(spec(dir.path(), 0)).unwrap();
    let _stream = first_request(environment.runtime_api).await;

    let (mut freezes, mut thaws) = (Vec::new(), Vec::new());
    for _ in 0..200 {
        let started = Instant::now();
        environment.control.freeze().unwrap();
        freezes.push(started.elapsed());
        let started = Instant::now();
        environment.control.thaw().unwrap();
        thaws.push(started.elapsed());
    }
    let (freeze, thaw) = (median(freezes), median(thaws));
    println!("| freeze plus thaw of an idle environment (200 runs, median) | time |");
    println!("| --- | --- |");
    println!("| freeze (until the kernel reports FROZEN) | {} |", millis(freeze));
    println!("| thaw | {} |", millis(thaw));
    println!("| both | {} |", millis(freeze + thaw));
    environment.control.kill();
    namespace.shutdown();
}
