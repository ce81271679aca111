//! Event sources that push events into functions through the engine: schedules, and log
//! subscriptions, which deliver a function's log events to another function as CloudWatch
//! Logs subscription filters do.

pub mod log_subscription;
pub mod schedule;
