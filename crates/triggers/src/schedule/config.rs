//! Schedule rules defined in the server's TOML file (`[[schedules]]`), applied at start-up
//! through the same operations as the API.

use serde::Deserialize;

use super::error::ScheduleError;
use super::expression::ScheduleExpression;
use super::service::{PutRuleRequest, Schedules, Target};

/// The id of the one target of a rule from the configuration file.
pub const CONFIGURED_TARGET_ID: &str = "configured";

/// One `[[schedules]]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfiguredSchedule {
    /// The rule name.
    pub name: String,
    /// `rate(...)` or `cron(...)`.
    pub expression: String,
    /// A function name or ARN.
    pub function: String,
    /// JSON text sent instead of the "Scheduled Event".
    pub input: Option<String>,
}

impl ConfiguredSchedule {
    /// Checks the rule name and the expression, so that a bad settings file stops the server
    /// before it starts anything.
    pub fn validate(&self) -> Result<(), ScheduleError> {
        let invalid = |err: String| {
            ScheduleError::Validation(format!("invalid schedule {} in the settings file: {err}", self.name))
        };
        super::validate::check_name(&self.name, "name").map_err(|err| invalid(err.to_string()))?;
        ScheduleExpression::parse(&self.expression).map_err(|err| invalid(err.to_string()))?;
        if let Some(input) = &self.input {
            serde_json::from_str::<serde::de::IgnoredAny>(input)
                .map_err(|err| invalid(format!("input is not valid JSON text: {err}")))?;
        }
        Ok(())
    }
}

impl Schedules {
    /// Creates or updates each configured rule, enabled, with one target. A rule whose
    /// expression is unchanged keeps its last tick, so a restart does not restart its rate.
    pub async fn apply_configured(&self, schedules: &[ConfiguredSchedule]) -> Result<(), ScheduleError> {
        for schedule in schedules {
            self.apply_one(schedule).await.map_err(|err| {
                ScheduleError::Validation(format!(
                    "invalid schedule {} in the settings file: {err}",
                    schedule.name
                ))
            })?;
        }
        Ok(())
    }

    async fn apply_one(&self, schedule: &ConfiguredSchedule) -> Result<(), ScheduleError> {
        let request = PutRuleRequest {
            name: schedule.name.clone(),
            schedule_expression: Some(schedule.expression.clone()),
            state: Some("ENABLED".into()),
            description: Some("Defined in the settings file".into()),
            ..PutRuleRequest::default()
        };
        self.put_rule(request).await?;
        let target = Target {
            id: CONFIGURED_TARGET_ID.into(),
            arn: self.function_arn(&schedule.function),
            input: schedule.input.clone(),
            input_path: None,
        };
        let failed = self.put_targets(&schedule.name, None, vec![target]).await?;
        match failed.into_iter().next() {
            Some(entry) => Err(ScheduleError::Validation(entry.error_message)),
            None => Ok(()),
        }
    }

    fn function_arn(&self, function: &str) -> String {
        if function.starts_with("arn:") {
            return function.to_string();
        }
        let settings = self.inner.engine.settings();
        format!("arn:aws:lambda:{}:{}:function:{function}", settings.region, settings.account_id)
    }
}
