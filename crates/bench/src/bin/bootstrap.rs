//! A minimal custom-runtime bootstrap for benchmarks. It answers every event at once, or after
//! `sleep_ms` milliseconds when the event asks for it, and returns the epoch millisecond at
//! which it received the event. An event with `"log_received":true` also makes it print
//! `received REQUEST_ID EPOCH_MICROSECONDS` to its log.
//!
//! It speaks HTTP/1.1 over one kept-alive std `TcpStream` instead of using an HTTP library:
//! the benchmarks measure Flicker's overhead, so the bootstrap does as little work as possible.
//! It relies on the Runtime API framing every response with `Content-Length`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

struct Response {
    request_id: String,
    body: Vec<u8>,
}

fn read_response(reader: &mut BufReader<TcpStream>) -> std::io::Result<Response> {
    let mut line = String::new();
    let mut length = 0usize;
    let mut request_id = String::new();
    reader.read_line(&mut line)?;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        let (name, value) = line.split_once(':').unwrap_or((&line, ""));
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().unwrap_or(0);
        } else if name.eq_ignore_ascii_case("lambda-runtime-aws-request-id") {
            request_id = value.to_string();
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(Response { request_id, body })
}

fn sleep_requested(event: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(event).ok()?;
    let rest = &text[text.find("\"sleep_ms\":")? + "\"sleep_ms\":".len()..];
    let digits: String = rest.trim_start().chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn logs_receipt(event: &[u8]) -> bool {
    std::str::from_utf8(event).is_ok_and(|text| text.contains("\"log_received\":true"))
}

fn main() -> std::io::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("--exit") {
        return Ok(());
    }
    let address = std::env::var("AWS_LAMBDA_RUNTIME_API").expect("AWS_LAMBDA_RUNTIME_API is set");
    let stream = TcpStream::connect(&address)?;
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    // Each request is formatted first and sent with one write, so that it leaves in one segment.
    let next_request = format!("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: {address}\r\n\r\n");
    loop {
        writer.write_all(next_request.as_bytes())?;
        let event = read_response(&mut reader)?;
        let received_at = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let received = received_at.as_millis();
        if logs_receipt(&event.body) {
            println!("received {} {}", event.request_id, received_at.as_micros());
        }
        if let Some(milliseconds) = sleep_requested(&event.body) {
            std::thread::sleep(Duration::from_millis(milliseconds));
        }
        let body = format!("{{\"received_ms\":{received}}}");
        let response = format!(
            "POST /2018-06-01/runtime/invocation/{}/response HTTP/1.1\r\nHost: {address}\r\nContent-Length: {}\r\n\r\n{body}",
            event.request_id,
            body.len()
        );
        writer.write_all(response.as_bytes())?;
        read_response(&mut reader)?;
    }
}
