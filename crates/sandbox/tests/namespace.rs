//! The namespace sandbox against the real kernel. These tests need root; as another user they
//! return early and pass.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use flicker_sandbox::namespace::{CpuLimit, HelperCommand, NetworkMode};
use flicker_sandbox::{
    Environment, EnvironmentSpec, ExitStatus, HostDirs, NamespaceConfig, NamespaceSandbox, Sandbox,
};

static NEXT_ID: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

struct Fixture {
    dir: tempfile::TempDir,
    sandbox: NamespaceSandbox,
}

impl Fixture {
    fn new() -> Self {
        Self::with_network(NetworkMode::Isolated)
    }

    fn with_network(network: NetworkMode) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = NamespaceConfig {
            state_dir: dir.path().join("sandbox"),
            helper: HelperCommand {
                program: env!("CARGO_BIN_EXE_flicker-sandbox-init").into(),
                args: vec![],
            },
            network,
            cpu_limit: CpuLimit::Weight,
        };
        let sandbox = NamespaceSandbox::new(config).unwrap();
        for name in ["task", "runtime", "opt"] {
            std::fs::create_dir_all(dir.path().join(name)).unwrap();
        }
        Self { dir, sandbox }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn spec(&self, script: &str) -> EnvironmentSpec {
        EnvironmentSpec {
            id: format!(
                "test-{}-{}",
                std::process::id(),
                NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ),
            host: HostDirs {
                task_root: self.path("task"),
                runtime_dir: self.path("runtime"),
                opt_dir: self.path("opt"),
            },
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            working_dir: "/var/task".into(),
            env: BTreeMap::from([("PATH".to_string(), "/usr/bin:/bin".to_string())]),
            memory_mb: 128,
            ephemeral_storage_mb: 16,
        }
    }

    fn start(&self, script: &str) -> Environment {
        self.sandbox.start(self.spec(script)).unwrap()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.sandbox.shutdown();
    }
}

async fn finish(environment: Environment) -> (Option<ExitStatus>, String) {
    let mut exited = environment.exited.clone();
    let status = *tokio::time::timeout(Duration::from_secs(20), exited.wait_for(Option::is_some))
        .await
        .unwrap()
        .unwrap();
    environment.control.kill();
    let output = std::fs::File::from(environment.output);
    (status, std::io::read_to_string(output).unwrap())
}

async fn run(fixture: &Fixture, script: &str) -> (Option<ExitStatus>, String) {
    finish(fixture.start(script)).await
}

#[tokio::test]
async fn bootstrap_runs_as_unprivileged_user() {
    if !is_root() {
        return;
    }
    let fixture = Fixture::new();
    let (status, output) = run(&fixture, "id -u; id -un; grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; echo $AWS_LAMBDA_RUNTIME_API; echo pid=$$").await;
    assert_eq!(status, Some(ExitStatus::Code(0)), "{output}");
    let lines: Vec<&str> = output.lines().collect();
    assert!(lines[0].parse::<u32>().unwrap() >= 200_000, "{output}");
    assert_eq!(lines[1], "sbx_user1051", "{output}");
    assert!(output.contains("CapEff:\t0000000000000000"), "{output}");
    assert!(output.contains("CapBnd:\t0000000000000000"), "{output}");
    assert!(output.contains("NoNewPrivs:\t1"), "{output}");
    assert!(output.contains("Seccomp:\t2"), "{output}");
    assert!(output.contains("127.0.0.1:9001"), "{output}");
    assert!(output.contains("pid=2"), "the bootstrap is the first child of init: {output}");
}

#[tokio::test]
async fn exit_status_is_forwarded() {
    if !is_root() {
        return;
    }
    let fixture = Fixture::new();
    assert_eq!(run(&fixture, "exit 7").await.0, Some(ExitStatus::Code(7)));
    assert_eq!(run(&fixture, "kill -SEGV $$").await.0, Some(ExitStatus::Signal(11)));
}

#[tokio::test]
async fn missing_program_fails_to_start() {
    if !is_root() {
        return;
    }
    let fixture = Fixture::new();
    let mut spec = fixture.spec("");
    spec.program = "/var/task/missing".into();
    let err = fixture.sandbox.start(spec).err().expect("start fails");
    assert!(matches!(err, flicker_sandbox::StartError::Spawn { .. }), "{err}");
}

#[tokio::test]
async fn root_hides_host_files() {
    if !is_root() {
        return;
    }
    let fixture = Fixture::new();
    std::fs::write(fixture.path("task/handler.txt"), "code").unwrap();
    let data_dir = fixture.path("sandbox");
    let script = format!(
        "ls -a /; cat /var/task/handler.txt; echo; test -e /etc/shadow && echo shadow; test -e /root/.bashrc && echo rootdir; \
         test -e {} && echo datadir; touch /var/task/x 2>/dev/null && echo wrote; touch /x 2>/dev/null && echo wroteroot; \
         touch /tmp/x && echo tmp-ok; ls /proc | grep -c '^[0-9]'",
        data_dir.display()
    );
    let (status, output) = run(&fixture, &script).await;
    assert_eq!(status, Some(ExitStatus::Code(0)), "{output}");
    assert!(output.contains("code"), "{output}");
    assert!(!output.contains("shadow"), "{output}");
    assert!(!output.contains("rootdir"), "{output}");
    assert!(!output.contains("datadir"), "{output}");
    assert!(!output.contains("wrote"), "{output}");
    assert!(output.contains("tmp-ok"), "{output}");
    assert!(!output.contains("home"), "{output}");
}

#[tokio::test]
async fn kill_ends_background_processes() {
    if !is_root() {
        return;
    }
    let fixture = Fixture::new();
    let environment = fixture.start("sleep 30 & sleep 30");
    tokio::time::sleep(Duration::from_millis(200)).await;
    environment.control.kill();
    let (status, output) = finish(environment).await;
    assert_eq!(status, Some(ExitStatus::Signal(9)));
    assert_eq!(output, "");
}

#[tokio::test]
async fn seccomp_denies_namespace_calls() {
    if !is_root() {
        return;
    }
    let fixture = Fixture::new();
    let (status, output) =
        run(&fixture, "unshare -U true; echo unshare=$?; mount -t tmpfs x /tmp 2>&1; echo mount=$?").await;
    assert_eq!(status, Some(ExitStatus::Code(0)), "{output}");
    assert!(output.contains("unshare=1"), "{output}");
    assert!(!output.contains("mount=0"), "{output}");
}

#[tokio::test]
async fn outbound_environment_gets_eth0_and_default_route() {
    if !is_root() || !Path::new("/usr/sbin/nft").exists() {
        return;
    }
    let fixture = Fixture::with_network(NetworkMode::Outbound);
    let (status, output) = run(&fixture, "cat /proc/net/route; ip -4 -o addr show eth0").await;
    assert_eq!(status, Some(ExitStatus::Code(0)), "{output}");
    assert!(output.contains("eth0\t00000000\t"), "a default route via eth0: {output}");
    assert!(output.contains("/30"), "{output}");
}

#[tokio::test]
async fn memory_limit_kills_and_is_reported() {
    if !is_root() {
        return;
    }
    let fixture = Fixture::new();
    assert!(fixture.sandbox.enforces_cgroups());
    // `tail` keeps the last line in memory, and /dev/zero has no line end.
    let environment = fixture.start("head -c 300M /dev/zero | tail >/dev/null; echo survived");
    let mut exited = environment.exited.clone();
    exited.wait_for(Option::is_some).await.unwrap();
    assert!(environment.control.out_of_memory());
    let peak = environment.control.max_memory_used().unwrap();
    assert!(peak > 100 << 20, "peak {peak}");
    assert!(peak <= 128 << 20, "peak {peak}");
    let (_, output) = finish(environment).await;
    assert!(output.contains("survived"), "the shell outlives the killed pipeline: {output}");
}

#[tokio::test]
async fn frozen_environment_makes_no_progress() {
    if !is_root() {
        return;
    }
    let fixture = Fixture::new();
    let environment = fixture.start("while :; do echo x; sleep 0.01; done");
    let output = std::fs::File::from(environment.output.try_clone().unwrap());
    let lines = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = lines.clone();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for _ in std::io::BufReader::new(output).lines() {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;

    environment.control.freeze().unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let frozen_at = lines.load(std::sync::atomic::Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(lines.load(std::sync::atomic::Ordering::Relaxed), frozen_at);

    environment.control.thaw().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(lines.load(std::sync::atomic::Ordering::Relaxed) > frozen_at);
    environment.control.kill();
}

#[tokio::test]
async fn fork_bomb_stops_at_process_limit() {
    if !is_root() {
        return;
    }
    let fixture = Fixture::new();
    let script = "import os, time\n\
                  refused = 0\n\
                  for _ in range(1500):\n\
                  \x20   try:\n\
                  \x20       if os.fork() == 0:\n\
                  \x20           time.sleep(5)\n\
                  \x20           os._exit(0)\n\
                  \x20   except BlockingIOError:\n\
                  \x20       refused += 1\n\
                  print(refused)\n\
                  print(sum(1 for name in os.listdir('/proc') if name.isdigit()))\n";
    let mut spec = fixture.spec("");
    spec.program = "/usr/bin/python3".into();
    spec.args = vec!["-c".into(), script.into()];
    spec.memory_mb = 2048;
    let (status, output) = finish(fixture.sandbox.start(spec).unwrap()).await;
    assert_eq!(status, Some(ExitStatus::Code(0)), "{output}");
    assert!(output.lines().next().unwrap().parse::<u32>().unwrap() > 0, "some forks were refused: {output}");
    let processes: usize = output.trim().lines().last().unwrap().parse().unwrap();
    assert!((1000..=1024).contains(&processes), "{processes} processes");
}
