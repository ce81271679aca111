//! The Runtime API driven over real HTTP on loopback, as a bootstrap drives it.

use bytes::Bytes;
use flicker_runtime_api::{serve, Delivery, Invocation, Outcome, RuntimeEvent};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::oneshot;

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

async fn call(
    client: &HttpClient,
    method: &str,
    url: String,
    body: &'static [u8],
) -> (u16, hyper::HeaderMap, Bytes) {
    let request =
        hyper::Request::builder().method(method).uri(url).body(Full::new(Bytes::from_static(body))).unwrap();
    let response = client.request(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.into_body().collect().await.unwrap().to_bytes())
}

fn invocation(id: &str) -> Invocation {
    Invocation {
        request_id: id.into(),
        payload: Bytes::from_static(b"{\"a\":1}"),
        deadline_ms: 1234,
        invoked_function_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
        trace_id: "Root=1-0-0".into(),
        client_context: None,
        cognito_identity: None,
    }
}

async fn start() -> (flicker_runtime_api::RuntimeApi, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let base = format!("http://{}/2018-06-01/runtime", listener.local_addr().unwrap());
    (serve(listener).unwrap(), base)
}

#[tokio::test]
async fn next_then_response_delivers_outcome() {
    let (mut api, base) = start().await;
    let (outcome, receiver) = oneshot::channel();
    api.deliveries.send(Delivery { invocation: invocation("r1"), outcome }).await.unwrap();

    let http = client();
    let (status, headers, body) = call(&http, "GET", format!("{base}/invocation/next"), b"").await;
    assert_eq!(status, 200);
    assert_eq!(headers["lambda-runtime-aws-request-id"], "r1");
    assert_eq!(headers["lambda-runtime-deadline-ms"], "1234");
    assert_eq!(body, Bytes::from_static(b"{\"a\":1}"));
    assert_eq!(api.events.recv().await, Some(RuntimeEvent::Ready));

    let (status, _, _) = call(&http, "POST", format!("{base}/invocation/r1/response"), b"\"ok\"").await;
    assert_eq!(status, 202);
    assert_eq!(receiver.await.unwrap(), Outcome::Response(Bytes::from_static(b"\"ok\"")));

    let (status, _, body) = call(&http, "POST", format!("{base}/invocation/r1/response"), b"again").await;
    assert_eq!(status, 403, "{body:?}");
}

#[tokio::test]
async fn unknown_request_id_is_rejected() {
    let (_api, base) = start().await;
    let (status, _, body) = call(&client(), "POST", format!("{base}/invocation/nope/response"), b"x").await;
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("InvalidRequestID"));
}

#[tokio::test]
async fn init_error_is_reported_before_next() {
    let (mut api, base) = start().await;
    let (status, _, _) =
        call(&client(), "POST", format!("{base}/init/error"), b"{\"errorType\":\"X\"}").await;
    assert_eq!(status, 202);
    let event = api.events.recv().await.unwrap();
    assert!(matches!(event, RuntimeEvent::InitError { .. }));
}

#[tokio::test]
async fn oversized_response_is_rejected_with_413() {
    let (api, base) = start().await;
    let (outcome, receiver) = oneshot::channel();
    api.deliveries.send(Delivery { invocation: invocation("big"), outcome }).await.unwrap();
    let http = client();
    call(&http, "GET", format!("{base}/invocation/next"), b"").await;

    let huge: &'static [u8] = Box::leak(vec![b'x'; 7 * 1024 * 1024].into_boxed_slice());
    let (status, _, _) = call(&http, "POST", format!("{base}/invocation/big/response"), huge).await;
    assert_eq!(status, 413);
    assert_eq!(receiver.await.unwrap(), Outcome::ResponseTooLarge);
}
