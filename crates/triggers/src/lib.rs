//! Event sources that push events into functions through the engine: schedules.

pub mod schedule;
