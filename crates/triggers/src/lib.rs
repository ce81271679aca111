//! Event sources that push events into functions: log subscriptions, which deliver a
//! function's log events to another function as CloudWatch Logs subscription filters do.

pub mod log_subscription;
