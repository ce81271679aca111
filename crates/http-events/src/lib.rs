//! HTTP requests turned into the events Lambda sends for function URLs and API Gateway
//! routes (payload formats 2.0 and 1.0), and function results turned back into HTTP
//! responses. This crate depends on no HTTP server and no engine: it maps plain values.

mod event;
mod response;
mod routes;

pub use event::{v1_event, v2_event, EventContext, HttpRequest};
pub use response::{map_error, map_result, HttpResponse, ResultFormat};
pub use routes::{LoadRoutesError, PayloadFormat, Route, RouteMatch, RouteTable};
