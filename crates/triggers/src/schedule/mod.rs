//! Schedule rules: EventBridge `rate()` and `cron()` expressions that invoke Lambda functions
//! asynchronously with the "Scheduled Event" payload. Rules with an `EventPattern` are not
//! served.

mod config;
mod cron;
mod error;
mod expression;
mod fire;
mod service;
mod validate;

pub use config::{ConfiguredSchedule, CONFIGURED_TARGET_ID};
pub use cron::{Cron, CronError};
pub use error::ScheduleError;
pub use expression::{ExpressionError, ScheduleExpression};
pub use service::{
    FailedEntry, PutRuleRequest, RuleDescription, ScheduleSettings, Schedules, StartSchedulesError, Target,
};
