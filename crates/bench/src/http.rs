//! The benchmark's HTTP client, the Flicker calls it makes, and the floor server.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};

/// One kept-alive HTTP/1.1 client, shared by all benchmark tasks.
#[derive(Clone)]
pub struct HttpClient {
    client: Client<HttpConnector, Full<Bytes>>,
}

/// A response's status, chosen headers and body.
pub struct Reply {
    pub status: u16,
    pub log_result: Option<String>,
    /// `x-amzn-RequestId`.
    pub request_id: Option<String>,
    pub body: Bytes,
}

impl HttpClient {
    pub fn new() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(256).build(connector);
        Self { client }
    }

    pub async fn request(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> anyhow::Result<Reply> {
        let mut builder = hyper::Request::builder().method(method).uri(url);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let response = self
            .client
            .request(builder.body(Full::new(body))?)
            .await
            .with_context(|| format!("{method} {url}"))?;
        let status = response.status().as_u16();
        let log_result =
            response.headers().get("x-amz-log-result").and_then(|v| v.to_str().ok()).map(str::to_string);
        let request_id =
            response.headers().get("x-amzn-requestid").and_then(|v| v.to_str().ok()).map(str::to_string);
        let body = response.into_body().collect().await?.to_bytes();
        Ok(Reply { status, log_result, request_id, body })
    }
}

/// Flicker's API at one address.
#[derive(Clone)]
pub struct Flicker {
    pub http: HttpClient,
    pub base: String,
}

impl Flicker {
    pub async fn create_function(
        &self,
        name: &str,
        runtime: &str,
        handler: &str,
        zip: &[u8],
    ) -> anyhow::Result<()> {
        let body = serde_json::json!({
            "FunctionName": name,
            "Runtime": runtime,
            "Handler": handler,
            "Role": "arn:aws:iam::000000000000:role/bench",
            "Timeout": 30,
            "Code": { "ZipFile": base64::engine::general_purpose::STANDARD.encode(zip) },
        });
        let reply = self
            .http
            .request("POST", &format!("{}/2015-03-31/functions", self.base), &[], body.to_string().into())
            .await?;
        if reply.status != 201 {
            bail!("creating {name} failed with {}: {}", reply.status, String::from_utf8_lossy(&reply.body));
        }
        Ok(())
    }

    /// Changes an environment variable, which retires the function's warm environments.
    pub async fn touch_configuration(&self, name: &str, value: usize) -> anyhow::Result<()> {
        let body =
            serde_json::json!({ "Environment": { "Variables": { "BENCH_GENERATION": value.to_string() } } });
        let url = format!("{}/2015-03-31/functions/{name}/configuration", self.base);
        let reply = self.http.request("PUT", &url, &[], body.to_string().into()).await?;
        if reply.status != 200 {
            bail!("updating {name} failed with {}", reply.status);
        }
        Ok(())
    }

    pub async fn invoke(
        &self,
        name: &str,
        payload: &'static str,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<Reply> {
        let url = format!("{}/2015-03-31/functions/{name}/invocations", self.base);
        let reply = self.http.request("POST", &url, headers, Bytes::from_static(payload.as_bytes())).await?;
        if reply.status >= 300 {
            bail!("invoking {name} failed with {}: {}", reply.status, String::from_utf8_lossy(&reply.body));
        }
        Ok(reply)
    }

    pub async fn metric(&self, name: &str) -> anyhow::Result<f64> {
        let reply = self.http.request("GET", &format!("{}/metrics", self.base), &[], Bytes::new()).await?;
        let text = String::from_utf8_lossy(&reply.body).into_owned();
        text.lines()
            .find_map(|line| line.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
            .and_then(|value| value.trim().parse().ok())
            .with_context(|| format!("metric {name} not found"))
    }
}

/// Starts the floor: a minimal hyper server answering `{}` to every request.
pub async fn start_floor_server() -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_request| async {
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(Bytes::from_static(
                        b"{}",
                    ))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(address)
}

/// Times `count` sequential runs of `call`.
pub async fn time_sequential<F, Fut>(count: usize, mut call: F) -> anyhow::Result<Vec<Duration>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        call().await?;
        samples.push(started.elapsed());
    }
    Ok(samples)
}
