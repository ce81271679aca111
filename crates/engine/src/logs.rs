//! Function logs: each environment's output split into log events, the START, END and REPORT
//! lines, the 4 KB tail returned to `Tail` callers, and a size-bounded file per function.
//!
//! The invocation path only sends lines over channels; one writer task does the file I/O.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use tokio::net::unix::pipe;
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

use flicker_model::limits;

/// A log event longer than this is split, as CloudWatch Logs limits events to 256 KiB.
const MAX_EVENT_BYTES: usize = 256 * 1024;
/// How long the log writer sleeps after writing a batch.
const BATCH_INTERVAL: std::time::Duration = std::time::Duration::from_millis(5);
/// Log bytes that may wait for the writer; past this, events are dropped and counted.
const MAX_QUEUED_BYTES: usize = 64 * 1024 * 1024;

/// One log event of one function's log stream.
#[derive(Debug, Clone)]
pub struct LogEvent {
    /// The function name.
    pub function: Arc<str>,
    /// The environment's log stream, as in `AWS_LAMBDA_LOG_STREAM_NAME`.
    pub stream: Arc<str>,
    /// Milliseconds since the Unix epoch at which the line was read.
    pub timestamp_ms: i64,
    /// The line without its line break.
    pub message: String,
}

/// Bytes a subscriber's queue counts for each event on top of its message.
const SUBSCRIBER_EVENT_OVERHEAD: usize = 64;

/// The subscribers to each function's log events.
type Subscribers = Arc<RwLock<HashMap<Arc<str>, Vec<Subscriber>>>>;

/// The writer's end of a subscription.
#[derive(Debug)]
struct Subscriber {
    sender: mpsc::UnboundedSender<LogEvent>,
    queued_bytes: Arc<AtomicUsize>,
    max_queued_bytes: usize,
}

fn queued_size(event: &LogEvent) -> usize {
    event.message.len() + SUBSCRIBER_EVENT_OVERHEAD
}

/// A subscription to one function's log events; dropping it ends the subscription.
#[derive(Debug)]
pub struct LogSubscription {
    receiver: mpsc::UnboundedReceiver<LogEvent>,
    queued_bytes: Arc<AtomicUsize>,
}

impl LogSubscription {
    /// Waits for the next event; returns `None` once the log writer has stopped.
    pub async fn recv(&mut self) -> Option<LogEvent> {
        let event = self.receiver.recv().await?;
        self.queued_bytes.fetch_sub(queued_size(&event), Ordering::Relaxed);
        Some(event)
    }

    /// Takes the next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<LogEvent> {
        let event = self.receiver.try_recv().ok()?;
        self.queued_bytes.fetch_sub(queued_size(&event), Ordering::Relaxed);
        Some(event)
    }
}

/// The log files of all functions under one directory.
#[derive(Debug, Clone)]
pub struct LogStore {
    sender: std::sync::mpsc::Sender<LogEvent>,
    queued_bytes: Arc<AtomicUsize>,
    dropped: Arc<AtomicU64>,
    dir: PathBuf,
    subscribers: Subscribers,
    /// Events not sent to a subscriber because its queue was full.
    dropped_for_subscribers: Arc<AtomicU64>,
}

impl LogStore {
    /// Starts the writer thread. Each function's file is rotated once it passes
    /// `max_file_bytes`, keeping one previous file.
    pub fn start(dir: &Path, max_file_bytes: u64) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let (sender, receiver) = std::sync::mpsc::channel();
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        let subscribers = Subscribers::default();
        let dropped_for_subscribers = Arc::new(AtomicU64::new(0));
        let writer = LogWriter {
            dir: dir.to_path_buf(),
            max_file_bytes,
            files: HashMap::new(),
            subscribers: subscribers.clone(),
            dropped_for_subscribers: dropped_for_subscribers.clone(),
        };
        let queued = queued_bytes.clone();
        std::thread::Builder::new()
            .name("flicker-logs".into())
            .spawn(move || writer.run(receiver, queued))?;
        Ok(Self {
            sender,
            queued_bytes,
            dropped: Arc::new(AtomicU64::new(0)),
            dir: dir.to_path_buf(),
            subscribers,
            dropped_for_subscribers,
        })
    }

    /// Subscribes to a function's log events from now on, in the order they are written. The
    /// writer thread never waits for a subscriber: while the events waiting for it take
    /// `max_queued_bytes` (message bytes plus 64 per event), further events are dropped for this
    /// subscriber and counted.
    pub fn subscribe(&self, function: &str, max_queued_bytes: usize) -> LogSubscription {
        let (sender, receiver) = mpsc::unbounded_channel();
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        let subscriber = Subscriber { sender, queued_bytes: queued_bytes.clone(), max_queued_bytes };
        let mut subscribers = self.subscribers.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        subscribers.entry(Arc::from(function)).or_default().push(subscriber);
        LogSubscription { receiver, queued_bytes }
    }

    /// Log events not sent to a subscriber because it fell behind.
    pub fn dropped_subscriber_events(&self) -> u64 {
        self.dropped_for_subscribers.load(Ordering::Relaxed)
    }

    fn append(&self, function: &Arc<str>, stream: &Arc<str>, message: String) {
        let size = message.len();
        if self.queued_bytes.fetch_add(size, Ordering::Relaxed) > MAX_QUEUED_BYTES {
            self.queued_bytes.fetch_sub(size, Ordering::Relaxed);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let event = LogEvent {
            function: function.clone(),
            stream: stream.clone(),
            timestamp_ms: chrono::Utc::now().timestamp_millis(),
            message,
        };
        if self.sender.send(event).is_err() {
            self.queued_bytes.fetch_sub(size, Ordering::Relaxed);
        }
    }

    /// Log events dropped because the writer fell behind.
    pub fn dropped_events(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// The path of a function's current log file.
    pub fn path(&self, function: &str) -> PathBuf {
        self.dir.join(format!("{function}.log"))
    }
}

/// The writer thread's state: one open file per function that has logged.
struct LogWriter {
    dir: PathBuf,
    max_file_bytes: u64,
    files: HashMap<Arc<str>, OpenLog>,
    subscribers: Subscribers,
    dropped_for_subscribers: Arc<AtomicU64>,
}

struct OpenLog {
    writer: std::io::BufWriter<std::fs::File>,
    written: u64,
}

impl LogWriter {
    /// Writes events until every `LogStore` is dropped. After a batch the thread sleeps for
    /// `BATCH_INTERVAL` instead of waiting on the channel, so that under load senders find no
    /// waiting receiver and never pay for waking this thread. An idle writer blocks on the
    /// channel and wakes for the first event.
    fn run(mut self, receiver: std::sync::mpsc::Receiver<LogEvent>, queued_bytes: Arc<AtomicUsize>) {
        while let Ok(first) = receiver.recv() {
            let mut next = Some(first);
            while next.is_some() {
                while let Some(event) = next {
                    queued_bytes.fetch_sub(event.message.len(), Ordering::Relaxed);
                    if let Err(err) = self.write(&event) {
                        warn!(function = %event.function, error = %err, "writing a function log failed");
                        self.files.remove(&event.function);
                    }
                    self.publish(event);
                    next = receiver.try_recv().ok();
                }
                for log in self.files.values_mut() {
                    let _ = log.writer.flush();
                }
                std::thread::sleep(BATCH_INTERVAL);
                next = receiver.try_recv().ok();
            }
        }
    }

    /// Sends an event to the function's subscribers without waiting, and removes subscribers
    /// whose receiver is gone.
    fn publish(&self, event: LogEvent) {
        let closed = {
            let subscribers = self.subscribers.read().unwrap_or_else(|poisoned| poisoned.into_inner());
            let Some(targets) = subscribers.get(&event.function) else { return };
            let size = queued_size(&event);
            let mut closed = false;
            for subscriber in targets {
                if subscriber.sender.is_closed() {
                    closed = true;
                    continue;
                }
                if subscriber.queued_bytes.fetch_add(size, Ordering::Relaxed) + size
                    > subscriber.max_queued_bytes
                {
                    subscriber.queued_bytes.fetch_sub(size, Ordering::Relaxed);
                    self.dropped_for_subscribers.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                if subscriber.sender.send(event.clone()).is_err() {
                    subscriber.queued_bytes.fetch_sub(size, Ordering::Relaxed);
                    closed = true;
                }
            }
            closed
        };
        if closed {
            let mut subscribers = self.subscribers.write().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(targets) = subscribers.get_mut(&event.function) {
                targets.retain(|subscriber| !subscriber.sender.is_closed());
                if targets.is_empty() {
                    subscribers.remove(&event.function);
                }
            }
        }
    }

    fn write(&mut self, event: &LogEvent) -> std::io::Result<()> {
        let path = self.dir.join(format!("{}.log", event.function));
        let needs_rotation =
            self.files.get(&event.function).is_some_and(|log| log.written > self.max_file_bytes);
        if needs_rotation {
            self.files.remove(&event.function);
            std::fs::rename(&path, self.dir.join(format!("{}.log.1", event.function)))?;
        }
        let log = match self.files.entry(event.function.clone()) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                let file = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
                let written = file.metadata()?.len();
                entry.insert(OpenLog { writer: std::io::BufWriter::new(file), written })
            }
        };
        // One event is one line of the file; a line break inside an event is written as a
        // carriage return, as Lambda's runtimes do on standard output.
        let message = event.message.replace('\n', "\r");
        let line = format!("{}\t{}\t{message}\n", event.timestamp_ms, event.stream);
        log.writer.write_all(line.as_bytes())?;
        log.written += line.len() as u64;
        Ok(())
    }
}

/// Instructions to an environment's output reader, which orders them with the output.
#[derive(Debug)]
pub(crate) enum OutputControl {
    /// Writes a line of the platform's own, such as INIT_START.
    Line(String),
    /// Reads all output written so far, writes the START line, begins capturing the tail if
    /// asked to, and then acknowledges. Delivering the invocation only after the
    /// acknowledgement keeps the invocation's output after its START line.
    Start { line: String, capture_tail: bool, started: oneshot::Sender<()> },
    /// Reads all output written so far, writes the closing lines, and returns the tail.
    Finish { lines: Vec<String>, tail: oneshot::Sender<Option<Vec<u8>>> },
}

fn read_now(fd: &impl AsRawFd, buffer: &mut [u8]) -> std::io::Result<usize> {
    nix::unistd::read(fd.as_raw_fd(), buffer).map_err(std::io::Error::from)
}

/// The last bytes of an invocation's log.
struct TailBuffer(VecDeque<u8>);

impl TailBuffer {
    fn push_line(&mut self, line: &str) {
        self.0.extend(line.as_bytes());
        self.0.push_back(b'\n');
        let excess = self.0.len().saturating_sub(limits::LOG_TAIL);
        self.0.drain(..excess);
    }
}

/// Where an environment's output goes.
pub(crate) struct OutputSink {
    pub logs: LogStore,
    pub function: Arc<str>,
    pub stream: Arc<str>,
}

/// Starts reading an environment's output pipe into its log stream.
pub(crate) fn spawn_output_reader(
    output: OwnedFd,
    sink: OutputSink,
) -> std::io::Result<mpsc::UnboundedSender<OutputControl>> {
    let pipe = pipe::Receiver::from_owned_fd(output)?;
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(OutputReader { sink, pending: Vec::new(), tail: None }.run(pipe, receiver));
    Ok(sender)
}

struct OutputReader {
    sink: OutputSink,
    /// Output after the last newline.
    pending: Vec<u8>,
    tail: Option<TailBuffer>,
}

impl OutputReader {
    async fn run(mut self, pipe: pipe::Receiver, mut controls: mpsc::UnboundedReceiver<OutputControl>) {
        let mut buffer = vec![0u8; 64 * 1024];
        let mut open = true;
        loop {
            tokio::select! {
                biased;
                control = controls.recv() => match control {
                    Some(control) => {
                        if open {
                            open = self.drain(&pipe, &mut buffer);
                        }
                        self.handle(control);
                    }
                    None => break,
                },
                ready = pipe.readable(), if open => {
                    open = match ready {
                        Ok(()) => match pipe.try_io(|| read_now(&pipe, &mut buffer)) {
                            Ok(0) => false,
                            Ok(n) => {
                                self.consume(&buffer[..n]);
                                true
                            }
                            Err(err) => matches!(err.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted),
                        },
                        Err(_) => false,
                    };
                    if !open {
                        self.flush_pending();
                    }
                }
            }
        }
    }

    /// Reads everything available now; returns false at end of file. The read bypasses
    /// Tokio's cached readiness, which may not yet know of data written just before a control
    /// message was sent.
    fn drain(&mut self, pipe: &pipe::Receiver, buffer: &mut [u8]) -> bool {
        loop {
            match read_now(pipe, buffer) {
                Ok(0) => return false,
                Ok(n) => self.consume(&buffer[..n]),
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => return true,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return false,
            }
        }
    }

    fn consume(&mut self, mut bytes: &[u8]) {
        while let Some(newline) = bytes.iter().position(|b| *b == b'\n') {
            self.pending.extend_from_slice(&bytes[..newline]);
            self.flush_pending();
            bytes = &bytes[newline + 1..];
        }
        self.pending.extend_from_slice(bytes);
        while self.pending.len() >= MAX_EVENT_BYTES {
            let rest = self.pending.split_off(MAX_EVENT_BYTES);
            self.flush_pending();
            self.pending = rest;
        }
    }

    fn flush_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let line = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        self.emit(line);
    }

    fn emit(&mut self, line: String) {
        if let Some(tail) = &mut self.tail {
            tail.push_line(&line);
        }
        self.sink.logs.append(&self.sink.function, &self.sink.stream, line);
    }

    fn handle(&mut self, control: OutputControl) {
        match control {
            OutputControl::Line(line) => self.emit(line),
            OutputControl::Start { line, capture_tail, started } => {
                self.flush_pending();
                self.tail = capture_tail.then(|| TailBuffer(VecDeque::with_capacity(limits::LOG_TAIL)));
                self.emit(line);
                let _ = started.send(());
            }
            OutputControl::Finish { lines, tail } => {
                self.flush_pending();
                for line in lines {
                    self.emit(line);
                }
                let captured = self.tail.take().map(|t| Vec::from(t.0));
                let _ = tail.send(captured);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_last_bytes() {
        let mut tail = TailBuffer(VecDeque::new());
        for i in 0..1000 {
            tail.push_line(&format!("line {i}"));
        }
        let text = String::from_utf8(Vec::from(tail.0)).unwrap();
        assert!(text.len() <= limits::LOG_TAIL);
        assert!(text.ends_with("line 999\n"));
    }

    #[tokio::test]
    async fn reader_orders_output_before_finish_lines() {
        let dir = tempfile::tempdir().unwrap();
        let logs = LogStore::start(dir.path(), 1 << 20).unwrap();
        let (read, write) = nix::unistd::pipe().unwrap();
        let sink = OutputSink { logs, function: "f".into(), stream: "s".into() };
        let control = spawn_output_reader(read, sink).unwrap();
        let (started, acknowledged) = oneshot::channel();
        control.send(OutputControl::Start { line: "START".into(), capture_tail: true, started }).unwrap();
        acknowledged.await.unwrap();
        let mut writer = std::fs::File::from(write);
        writer.write_all(b"hello\npartial").unwrap();
        let (sender, receiver) = oneshot::channel();
        control.send(OutputControl::Finish { lines: vec!["END".into()], tail: sender }).unwrap();
        let tail = receiver.await.unwrap().unwrap();
        assert_eq!(String::from_utf8(tail).unwrap(), "START\nhello\npartial\nEND\n");
    }

    #[tokio::test]
    async fn subscriber_receives_only_its_function() {
        let dir = tempfile::tempdir().unwrap();
        let logs = LogStore::start(dir.path(), 1 << 20).unwrap();
        // Room for two of the three events.
        let mut events = logs.subscribe("f", 2 * (3 + SUBSCRIBER_EVENT_OVERHEAD));
        let (f, g, stream): (Arc<str>, Arc<str>, Arc<str>) = ("f".into(), "g".into(), "s".into());
        logs.append(&g, &stream, "other".into());
        logs.append(&f, &stream, "one".into());
        logs.append(&f, &stream, "two".into());
        logs.append(&f, &stream, "six".into());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while logs.dropped_subscriber_events() == 0 {
            assert!(std::time::Instant::now() < deadline, "the third event was never dropped");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let first = events.recv().await.unwrap();
        assert_eq!((&*first.function, &*first.stream, first.message.as_str()), ("f", "s", "one"));
        assert_eq!(events.recv().await.unwrap().message, "two");
        assert!(events.try_recv().is_none());
        assert_eq!(logs.dropped_subscriber_events(), 1);
    }
}
