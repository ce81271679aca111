//! `flicker-bench`: starts its own Flicker server on loopback and measures, in one run, each
//! figure next to its floor: warm latency next to a bare HTTP round trip, cold starts next to a
//! bare process start, throughput, scale-out, idle density and Event acceptance. It writes a
//! markdown table and the same data as JSON. `--quick` runs every benchmark briefly, for CI.

mod http;
mod stats;

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::Engine as _;
use clap::Parser;

use http::{start_floor_server, time_sequential, Flicker, HttpClient};
use stats::{cpu_time, descendants, millis, percentile, rss_bytes, Row};

#[derive(Debug, Parser)]
#[command(name = "flicker-bench")]
struct Args {
    /// Run each benchmark briefly, only to check that it works.
    #[arg(long)]
    quick: bool,
    /// The flicker binary [default: next to this one].
    #[arg(long)]
    flicker: Option<PathBuf>,
    /// Extra arguments for `flicker serve`, such as `--sandbox=process`.
    #[arg(long = "server-arg", allow_hyphen_values = true)]
    server_args: Vec<String>,
    /// Markdown report to write.
    #[arg(long, default_value = "docs/benchmarks.md")]
    markdown: PathBuf,
    /// JSON report to write.
    #[arg(long, default_value = "docs/benchmarks.json")]
    json: PathBuf,
    /// Directory under which the server keeps its data during the run. The default is on
    /// the same file system as the repository, because the durable Event figures depend on
    /// what a sync costs there. The system's temporary directory is often a tmpfs.
    #[arg(long, default_value = "target")]
    work_dir: PathBuf,
    /// Serve the floor's minimal HTTP server and print its address (used by the benchmark
    /// itself, so that the floor server is another process, as Flicker is).
    #[arg(long, hide = true)]
    floor_server: bool,
}

/// Sample counts; `quick` makes every benchmark short.
struct Plan {
    warm_samples: usize,
    throughput_seconds: f64,
    cold_samples: usize,
    scale_out: usize,
    density: usize,
    async_seconds: f64,
    async_delay_samples: usize,
}

impl Plan {
    fn new(quick: bool) -> Self {
        if quick {
            Self {
                warm_samples: 50,
                throughput_seconds: 0.3,
                cold_samples: 2,
                scale_out: 10,
                density: 10,
                async_seconds: 0.3,
                async_delay_samples: 10,
            }
        } else {
            Self {
                warm_samples: 3000,
                throughput_seconds: 3.0,
                cold_samples: 25,
                scale_out: 100,
                density: 200,
                async_seconds: 3.0,
                async_delay_samples: 300,
            }
        }
    }
}

struct Server {
    child: Child,
    data_dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

fn sibling_binary(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    Ok(exe.parent().context("the benchmark binary has a directory")?.join(name))
}

fn start_server(flicker: &Path, extra: &[String], work_dir: &Path) -> anyhow::Result<(Server, String)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    drop(listener);
    let data_dir = std::path::absolute(work_dir)?.join(format!("flicker-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let child = Command::new(flicker)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--log-level",
            "warn",
            "--idle-keep-alive",
            "600",
        ])
        .arg("--data-dir")
        .arg(&data_dir)
        .args(extra)
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("failed to start {}", flicker.display()))?;
    let server = Server { child, data_dir };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("flicker did not listen on port {port} within 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((server, format!("http://127.0.0.1:{port}")))
}

fn zip_of(files: &[(&str, &[u8], u32)]) -> anyhow::Result<Vec<u8>> {
    use std::io::Write;
    let mut buffer = std::io::Cursor::new(Vec::new());
    let mut writer = zip::ZipWriter::new(&mut buffer);
    for (name, content, mode) in files {
        writer.start_file(*name, zip::write::SimpleFileOptions::default().unix_permissions(*mode))?;
        writer.write_all(content)?;
    }
    writer.finish()?;
    Ok(buffer.into_inner())
}

/// A no-op function of one runtime, with the command whose start is its cold-start floor.
struct NoOp {
    runtime: &'static str,
    name: &'static str,
    handler: &'static str,
    zip: Vec<u8>,
    floor: Vec<String>,
}

/// The interpreter Flicker itself picks: the system directories first, then `PATH`, with
/// symbolic links resolved. Version-manager shims on `PATH` would make the floor slower than
/// what Flicker starts.
fn interpreter(name: &str) -> Option<String> {
    let path_dirs =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).unwrap_or_default();
    let system_dirs = ["/usr/local/bin", "/usr/bin", "/bin"].map(PathBuf::from);
    let candidate =
        system_dirs.iter().chain(path_dirs.iter()).map(|dir| dir.join(name)).find(|path| path.is_file())?;
    Some(std::fs::canonicalize(candidate).ok()?.display().to_string())
}

fn no_op_functions(bootstrap: &[u8], bootstrap_path: &Path) -> anyhow::Result<Vec<NoOp>> {
    let mut functions = vec![NoOp {
        runtime: "provided.al2023",
        name: "noop-provided",
        handler: "bootstrap",
        zip: zip_of(&[("bootstrap", bootstrap, 0o755)])?,
        floor: vec![bootstrap_path.display().to_string(), "--exit".into()],
    }];
    if let Some(python) = interpreter("python3.11").or_else(|| interpreter("python3")) {
        functions.push(NoOp {
            runtime: "python3.11",
            name: "noop-python",
            handler: "app.handler",
            zip: zip_of(&[("app.py", b"def handler(event, context):\n    return {}\n", 0o644)])?,
            floor: vec![python, "-c".into(), "pass".into()],
        });
    }
    if let Some(node) = interpreter("node") {
        functions.push(NoOp {
            runtime: "nodejs20.x",
            name: "noop-nodejs",
            handler: "index.handler",
            zip: zip_of(&[("index.js", b"exports.handler = async () => ({});\n", 0o644)])?,
            floor: vec![node, "-e".into(), "0".into()],
        });
    }
    Ok(functions)
}

fn process_start_floor(command: &[String], samples: usize) -> anyhow::Result<Duration> {
    let mut times = Vec::new();
    for _ in 0..samples.max(3) {
        let started = Instant::now();
        // The environment is cleared as Flicker clears it for a bootstrap, because host
        // variables such as NODE_EXTRA_CA_CERTS slow some interpreters down at start.
        let status = Command::new(&command[0])
            .args(&command[1..])
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("LANG", "en_US.UTF-8")
            .stdout(Stdio::null())
            .status()?;
        times.push(started.elapsed());
        if !status.success() {
            bail!("{} failed", command.join(" "));
        }
    }
    Ok(percentile(&times, 50.0))
}

/// Starts this binary as the floor server in another process and returns it with its URL.
fn spawn_floor_server() -> anyhow::Result<(Child, String)> {
    use std::io::BufRead;
    let mut child =
        Command::new(std::env::current_exe()?).arg("--floor-server").stdout(Stdio::piped()).spawn()?;
    let stdout = child.stdout.take().context("the floor server has a stdout")?;
    let mut line = String::new();
    std::io::BufReader::new(stdout).read_line(&mut line)?;
    Ok((child, format!("http://{}/", line.trim())))
}

async fn warm_latency(
    flicker: &Flicker,
    functions: &[NoOp],
    plan: &Plan,
    rows: &mut Vec<Row>,
) -> anyhow::Result<()> {
    let (mut floor_server, floor_url) = spawn_floor_server()?;
    let client = flicker.http.clone();
    let floor = time_sequential(plan.warm_samples, || {
        let client = client.clone();
        let url = floor_url.clone();
        async move { client.request("POST", &url, &[], bytes::Bytes::from_static(b"{}")).await.map(|_| ()) }
    })
    .await?;
    let _ = floor_server.kill();
    let _ = floor_server.wait();
    let (floor_p50, floor_p99) = (millis(percentile(&floor, 50.0)), millis(percentile(&floor, 99.0)));
    for function in functions {
        flicker.invoke(function.name, "{}", &[]).await?;
        let samples = time_sequential(plan.warm_samples, || async {
            flicker.invoke(function.name, "{}", &[]).await.map(|_| ())
        })
        .await?;
        let figure = format!("{} warm invoke", function.runtime);
        rows.push(
            Row::new("1 warm latency", &format!("{figure} p50"), millis(percentile(&samples, 50.0)), "ms")
                .floor("HTTP round trip p50", floor_p50)
                .target("<= 2x"),
        );
        rows.push(
            Row::new("1 warm latency", &format!("{figure} p99"), millis(percentile(&samples, 99.0)), "ms")
                .floor("HTTP round trip p99", floor_p99)
                .target("<= 5x"),
        );
    }
    Ok(())
}

async fn throughput(
    flicker: &Flicker,
    server_pid: u32,
    plan: &Plan,
    rows: &mut Vec<Row>,
) -> anyhow::Result<()> {
    for clients in [1usize, 4, 16, 64] {
        run_clients(flicker, clients, plan.throughput_seconds / 3.0).await?;
        let cpu_before = cpu_time(server_pid);
        let (count, elapsed) = run_clients(flicker, clients, plan.throughput_seconds).await?;
        let cpu = cpu_time(server_pid).saturating_sub(cpu_before);
        let rate = count as f64 / elapsed.as_secs_f64();
        let target = if clients == 1 { "" } else { ">= 20000/s" };
        rows.push(
            Row::new("2 throughput", &format!("{clients} clients"), rate, "invocations/s").target(target),
        );
        let per_call = cpu.as_secs_f64() * 1e6 / count.max(1) as f64;
        rows.push(Row::new(
            "2 throughput",
            &format!("{clients} clients, server CPU"),
            per_call,
            "us/invocation",
        ));
    }
    Ok(())
}

/// Runs `clients` loops invoking the provided no-op for `seconds`; returns the count and time.
async fn run_clients(flicker: &Flicker, clients: usize, seconds: f64) -> anyhow::Result<(usize, Duration)> {
    let done = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let flicker = flicker.clone();
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                flicker.invoke("noop-provided", "{}", &[]).await?;
                done.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok((done.load(Ordering::Relaxed), started.elapsed()))
}

/// Reads `Init Duration` and `Duration` from the REPORT line of a base64 log tail.
fn report_durations(log_result: &str) -> Option<(f64, f64)> {
    let raw = base64::engine::general_purpose::STANDARD.decode(log_result).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let report = text.lines().find(|line| line.starts_with("REPORT"))?;
    let field = |name: &str| -> Option<f64> {
        let rest = &report[report.find(name)? + name.len()..];
        rest.split_whitespace().next()?.parse().ok()
    };
    Some((field("Init Duration: ")?, field("\tDuration: ")?))
}

async fn cold_starts(
    flicker: &Flicker,
    functions: &[NoOp],
    plan: &Plan,
    rows: &mut Vec<Row>,
) -> anyhow::Result<()> {
    for function in functions {
        let floor = millis(process_start_floor(&function.floor, plan.cold_samples)?);
        let (mut totals, mut inits, mut sandbox, mut durations) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for generation in 0..plan.cold_samples {
            flicker.touch_configuration(function.name, generation).await?;
            let sandbox_before = flicker.metric("flicker_sandbox_start_seconds_total").await?;
            let started = Instant::now();
            let reply = flicker.invoke(function.name, "{}", &[("x-amz-log-type", "Tail")]).await?;
            totals.push(started.elapsed());
            let sandbox_after = flicker.metric("flicker_sandbox_start_seconds_total").await?;
            sandbox.push(Duration::from_secs_f64(sandbox_after - sandbox_before));
            let (init, duration) = reply
                .log_result
                .as_deref()
                .and_then(report_durations)
                .context("cold REPORT line has Init Duration")?;
            inits.push(Duration::from_secs_f64(init / 1000.0));
            durations.push(Duration::from_secs_f64(duration / 1000.0));
        }
        let name = function.runtime;
        let sandbox_ms = millis(percentile(&sandbox, 50.0));
        let init_ms = millis(percentile(&inits, 50.0));
        let total_ms = millis(percentile(&totals, 50.0));
        let target = if name.starts_with("provided") { "<= floor + 10 ms" } else { "<= 1.1x" };
        rows.push(
            Row::new("3 cold start", &format!("{name} invoke to response p50"), total_ms, "ms")
                .floor("bare process start p50", floor)
                .target(target),
        );
        rows.push(Row::new("3 cold start", &format!("{name} sandbox start p50"), sandbox_ms, "ms"));
        rows.push(
            Row::new(
                "3 cold start",
                &format!("{name} runtime init (Init Duration - sandbox) p50"),
                init_ms - sandbox_ms,
                "ms",
            )
            .floor("bare process start p50", floor),
        );
        rows.push(Row::new(
            "3 cold start",
            &format!("{name} invocation (Duration) p50"),
            millis(percentile(&durations, 50.0)),
            "ms",
        ));
    }
    Ok(())
}

/// Starts `count` slow invocations at once on a fresh function; returns the epoch milliseconds
/// at which each was received and the epoch milliseconds of the start.
async fn slow_burst(flicker: &Flicker, name: &str, count: usize) -> anyhow::Result<(Vec<u64>, u64)> {
    let started_ms = chrono::Utc::now().timestamp_millis() as u64;
    let mut tasks = Vec::new();
    for _ in 0..count {
        let flicker = flicker.clone();
        let name = name.to_string();
        tasks.push(tokio::spawn(async move {
            let reply = flicker.invoke(&name, r#"{"sleep_ms":1500}"#, &[]).await?;
            let value: serde_json::Value = serde_json::from_slice(&reply.body)?;
            value["received_ms"].as_u64().context("the bootstrap returns received_ms")
        }));
    }
    let mut received = Vec::new();
    for task in tasks {
        received.push(task.await??);
    }
    Ok((received, started_ms))
}

async fn scale_out(
    flicker: &Flicker,
    bootstrap_zip: &[u8],
    plan: &Plan,
    rows: &mut Vec<Row>,
) -> anyhow::Result<()> {
    flicker.create_function("scale-out", "provided.al2023", "bootstrap", bootstrap_zip).await?;
    let (received, started_ms) = slow_burst(flicker, "scale-out", plan.scale_out).await?;
    let last = received.iter().max().copied().unwrap_or(started_ms);
    let figure = format!("0 to {} environments running", plan.scale_out);
    rows.push(Row::new("4 scale-out", &figure, (last - started_ms) as f64, "ms").target("< 1000 ms for 100"));
    Ok(())
}

async fn density(
    flicker: &Flicker,
    server_pid: u32,
    bootstrap_zip: &[u8],
    plan: &Plan,
    rows: &mut Vec<Row>,
) -> anyhow::Result<()> {
    flicker.create_function("density", "provided.al2023", "bootstrap", bootstrap_zip).await?;
    let environments_before = flicker.metric("flicker_environments").await?;
    let server_before = rss_bytes(server_pid);
    let children_before: u64 = descendants(server_pid).into_iter().map(rss_bytes).sum();
    slow_burst(flicker, "density", plan.density).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let added = flicker.metric("flicker_environments").await? - environments_before;
    if added < plan.density as f64 {
        bail!("expected {} more environments, found {added}", plan.density);
    }
    let server_after = rss_bytes(server_pid);
    let children_after: u64 = descendants(server_pid).into_iter().map(rss_bytes).sum();
    let per_server = server_after.saturating_sub(server_before) as f64 / plan.density as f64 / 1024.0;
    let per_total = (server_after + children_after).saturating_sub(server_before + children_before) as f64
        / plan.density as f64
        / 1024.0;
    let figure = format!("server memory per idle environment ({} idle)", plan.density);
    rows.push(Row::new("5 density", &figure, per_server, "KiB").target("< 1024 KiB"));
    rows.push(Row::new(
        "5 density",
        &format!("total memory per idle environment ({} idle)", plan.density),
        per_total,
        "KiB",
    ));
    Ok(())
}

async fn event_acceptance(flicker: &Flicker, plan: &Plan, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let accepted = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(plan.async_seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let flicker = flicker.clone();
        let accepted = accepted.clone();
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                flicker.invoke("noop-provided", "{}", &[("x-amz-invocation-type", "Event")]).await?;
                accepted.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let rate = accepted.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    rows.push(
        Row::new("6 async", "Event invocations accepted durably, 32 clients", rate, "events/s")
            .target(">= 10000/s"),
    );
    Ok(())
}

/// Measures the delay from the 202 of an `Event` invocation to the moment a warm function
/// receives the event. Events are sent one at a time, so that each finds an idle environment.
/// The function prints the epoch microsecond at which it received each event to its log.
async fn event_start_delay(
    flicker: &Flicker,
    data_dir: &Path,
    plan: &Plan,
    rows: &mut Vec<Row>,
) -> anyhow::Result<()> {
    const FUNCTION: &str = "noop-provided";
    const PAYLOAD: &str = r#"{"log_received":true}"#;
    wait_for_empty_queue(flicker, FUNCTION).await?;
    flicker.invoke(FUNCTION, "{}", &[]).await?;
    let mut answered = Vec::new();
    for _ in 0..plan.async_delay_samples {
        let reply = flicker.invoke(FUNCTION, PAYLOAD, &[("x-amz-invocation-type", "Event")]).await?;
        let at = epoch_micros();
        let request_id = reply.request_id.context("the 202 has an x-amzn-RequestId")?;
        answered.push((request_id, at));
        // Waits for the event to finish, so that the next one finds the environment idle.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let received =
        wait_for_receipts(&data_dir.join("logs").join(format!("{FUNCTION}.log")), &answered).await?;
    let delays: Vec<Duration> =
        answered.iter().map(|(id, at)| Duration::from_micros(received[id].saturating_sub(*at))).collect();
    for p in [50.0, 99.0] {
        let figure = format!("delay from 202 to function start, warm, p{p}");
        let row = Row::new("6 async", &figure, millis(percentile(&delays, p)), "ms");
        rows.push(if p == 50.0 { row.target("< 5 ms") } else { row });
    }
    Ok(())
}

/// Waits until the events of the acceptance benchmark have run.
async fn wait_for_empty_queue(flicker: &Flicker, function: &str) -> anyhow::Result<()> {
    let metric = format!("flicker_async_queue_depth{{function=\"{function}\"}}");
    let deadline = Instant::now() + Duration::from_secs(300);
    while flicker.metric(&metric).await.unwrap_or(0.0) > 0.0 {
        if Instant::now() > deadline {
            bail!("the queued events of {function} did not run within 300 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

fn epoch_micros() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_micros() as u64
}

/// Reads `received ID MICROS` lines from a function log until every request id has one.
async fn wait_for_receipts(
    log: &Path,
    answered: &[(String, u64)],
) -> anyhow::Result<std::collections::HashMap<String, u64>> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let received: std::collections::HashMap<String, u64> = text
            .lines()
            .filter_map(|line| line.split_once("received ").map(|(_, rest)| rest))
            .filter_map(|rest| {
                let (id, micros) = rest.trim().split_once(' ')?;
                Some((id.to_string(), micros.parse().ok()?))
            })
            .collect();
        if answered.iter().all(|(id, _)| received.contains_key(id)) {
            return Ok(received);
        }
        if Instant::now() > deadline {
            bail!("the function did not log the receipt of every event within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut memory = String::new();
    if let Ok(mut file) = std::fs::File::open("/proc/meminfo") {
        let _ = file.read_to_string(&mut memory);
    }
    let total = memory
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<u64>().ok())
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cores} cores, {} GiB, Linux {}", total / 1024 / 1024, kernel.trim())
}

fn write_reports(args: &Args, rows: &[Row], command: &str) -> anyhow::Result<()> {
    let date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
    let mut text = format!(
        "# Benchmarks\n\nWritten by `{command}` on {date}.\nMachine: {}; the server's data directory was \
         under `{}`. Each figure is next to its floor measured in the same run; the machine is shared, \
         so compare ratios, not absolute times.\n\n\
         | benchmark | figure | value | floor | ratio | target |\n| --- | --- | --- | --- | --- | --- |\n",
        machine(),
        args.work_dir.display()
    );
    for row in rows {
        text.push_str(&row.markdown());
        text.push('\n');
    }
    let section_start = "<!-- flicker-bench:start -->";
    let section_end = "<!-- flicker-bench:end -->";
    let generated = format!("{section_start}\n{text}{section_end}\n");
    let existing = std::fs::read_to_string(&args.markdown).unwrap_or_default();
    let merged = match (existing.find(section_start), existing.find(section_end)) {
        (Some(start), Some(end)) => format!(
            "{}{generated}{}",
            &existing[..start],
            &existing[end + section_end.len()..].trim_start_matches('\n')
        ),
        _ if existing.is_empty() => generated,
        _ => format!("{generated}\n{existing}"),
    };
    if let Some(parent) = args.markdown.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&args.markdown, merged)?;
    let json = serde_json::json!({ "command": command, "date": date.to_string(), "machine": machine(), "rows": rows });
    std::fs::write(&args.json, serde_json::to_string_pretty(&json)?)?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.floor_server {
        let address = start_floor_server().await?;
        println!("{address}");
        std::future::pending::<()>().await;
    }
    let plan = Plan::new(args.quick);
    let flicker_path = match &args.flicker {
        Some(path) => path.clone(),
        None => sibling_binary("flicker")?,
    };
    let bootstrap_path = sibling_binary("flicker-bench-bootstrap")?;
    let bootstrap = std::fs::read(&bootstrap_path)
        .with_context(|| format!("failed to read {}", bootstrap_path.display()))?;
    let (server, base) = start_server(&flicker_path, &args.server_args, &args.work_dir)?;
    let server_pid = server.child.id();
    let flicker = Flicker { http: HttpClient::new(), base };

    let functions = no_op_functions(&bootstrap, &bootstrap_path)?;
    for function in &functions {
        flicker.create_function(function.name, function.runtime, function.handler, &function.zip).await?;
    }
    let bootstrap_zip = functions[0].zip.clone();
    let mut rows = Vec::new();
    eprintln!("warm latency");
    warm_latency(&flicker, &functions, &plan, &mut rows).await?;
    eprintln!("throughput");
    throughput(&flicker, server_pid, &plan, &mut rows).await?;
    eprintln!("cold starts");
    cold_starts(&flicker, &functions, &plan, &mut rows).await?;
    eprintln!("scale-out");
    scale_out(&flicker, &bootstrap_zip, &plan, &mut rows).await?;
    eprintln!("density");
    density(&flicker, server_pid, &bootstrap_zip, &plan, &mut rows).await?;
    eprintln!("async");
    event_acceptance(&flicker, &plan, &mut rows).await?;
    event_start_delay(&flicker, &server.data_dir, &plan, &mut rows).await?;
    drop(server);

    let command = std::env::args().collect::<Vec<_>>().join(" ");
    for row in &rows {
        println!("{}", row.markdown());
    }
    write_reports(&args, &rows, &command)
}
