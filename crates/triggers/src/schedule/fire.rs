//! The scheduler: a task that sleeps until the next tick of any enabled rule, records the tick
//! as fired, then invokes each target asynchronously with the "Scheduled Event" payload.
//!
//! Ticks missed while the server was down or busy collapse into one: only the latest due tick
//! fires. The tick is stored before the invocations start, so a stored tick does not fire again
//! after a crash or restart. If storing fails, the tick still fires and the error is logged.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use flicker_engine::{InvocationType, InvokeRequest};
use flicker_model::FunctionRef;
use tracing::{debug, error, info, warn};

use super::service::{Inner, Target};
use super::validate::apply_input_path;

/// How long the scheduler sleeps when no rule has a next tick; a change wakes it earlier.
const IDLE_SLEEP: Duration = Duration::from_secs(3600);

/// One tick of one rule, ready to fire.
struct DueTick {
    rule: String,
    tick: DateTime<Utc>,
    targets: Vec<Target>,
}

/// Runs until `Schedules::shutdown`.
pub(super) async fn run(inner: Arc<Inner>) {
    loop {
        if inner.stopping.load(Ordering::Acquire) {
            debug!("scheduler stopped");
            return;
        }
        let next = fire_due(&inner).await;
        let sleep = next
            .and_then(|next| (next - Utc::now()).to_std().ok())
            .map_or(IDLE_SLEEP, |until| until.min(IDLE_SLEEP));
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = inner.wake.notified() => {}
        }
    }
}

/// Fires every due tick and returns when the next one is due. The stores of last ticks and the
/// changes of rules are serialized by the control lock.
async fn fire_due(inner: &Arc<Inner>) -> Option<DateTime<Utc>> {
    let _control = inner.control.lock().await;
    let (due, next) = collect_due(inner, Utc::now());
    if due.is_empty() {
        return next;
    }
    let ticks: Vec<(String, i64)> =
        due.iter().map(|due| (due.rule.clone(), due.tick.timestamp_millis())).collect();
    let stored = inner
        .store(move |store| {
            for (rule, tick) in &ticks {
                store.set_last_tick(rule, *tick)?;
            }
            Ok(())
        })
        .await;
    if let Err(err) = stored {
        // The ticks still fire: the rules in memory have advanced, so they do not repeat
        // while this server runs, but they may fire again after a restart.
        error!(error = %err, "storing the last ticks of schedule rules failed");
    }
    for tick in due {
        fire(inner, tick);
    }
    next
}

/// Advances every enabled rule whose next tick has passed to its latest due tick, and returns
/// those ticks and the earliest tick still to come.
fn collect_due(inner: &Inner, now: DateTime<Utc>) -> (Vec<DueTick>, Option<DateTime<Utc>>) {
    let minute = inner.settings.rate_minute;
    let mut due = Vec::new();
    let mut next: Option<DateTime<Utc>> = None;
    for rule in inner.rules().values_mut().filter(|rule| rule.enabled) {
        if let Some(tick) = rule.expression.latest_tick(rule.last_tick, now, minute) {
            rule.last_tick = tick;
            due.push(DueTick { rule: rule.name.clone(), tick, targets: rule.targets.clone() });
        }
        if let Some(tick) = rule.expression.next_tick(rule.last_tick, minute) {
            next = Some(next.map_or(tick, |next| next.min(tick)));
        }
    }
    (due, next)
}

/// Builds the "Scheduled Event" that EventBridge sends for a tick.
fn scheduled_event(inner: &Inner, rule: &str, tick: DateTime<Utc>) -> serde_json::Value {
    let settings = inner.engine.settings();
    serde_json::json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": settings.account_id,
        "time": tick.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "region": settings.region,
        "resources": [inner.rule_arn(rule)],
        "detail": {},
    })
}

/// Builds the payload a target receives: its Input, the part of the event its InputPath
/// selects, or the event.
fn target_payload(target: &Target, event: &serde_json::Value) -> Bytes {
    match (&target.input, &target.input_path) {
        (Some(input), _) => Bytes::from(input.clone()),
        (None, Some(path)) => Bytes::from(apply_input_path(event, path).to_string()),
        (None, None) => Bytes::from(event.to_string()),
    }
}

/// Starts an `Event` invocation of each target; failures are logged.
fn fire(inner: &Arc<Inner>, due: DueTick) {
    if due.targets.is_empty() {
        debug!(rule = %due.rule, time = %due.tick, "schedule rule ticked without targets");
        return;
    }
    info!(rule = %due.rule, time = %due.tick, targets = due.targets.len(), "schedule rule fired");
    let event = scheduled_event(inner, &due.rule, due.tick);
    for target in due.targets {
        let payload = target_payload(&target, &event);
        let engine = inner.engine.clone();
        let rule = due.rule.clone();
        tokio::spawn(async move {
            let function = match FunctionRef::parse(&target.arn) {
                Ok(function) => function,
                Err(err) => {
                    warn!(rule = %rule, target = %target.id, arn = %target.arn, error = %err.message, "schedule target is not a function");
                    return;
                }
            };
            let request = InvokeRequest {
                function,
                invocation_type: InvocationType::Event,
                payload,
                tail_log: false,
                client_context: None,
            };
            if let Err(err) = engine.invoke(request).await {
                warn!(rule = %rule, target = %target.id, arn = %target.arn, error = %err.message, "invoking a schedule target failed");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(input: Option<&str>, input_path: Option<&str>) -> Target {
        Target {
            id: "t".into(),
            arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
            input: input.map(String::from),
            input_path: input_path.map(String::from),
        }
    }

    #[test]
    fn payload_follows_input_then_input_path() {
        let event = serde_json::json!({"detail": {}, "time": "2026-12-04T12:00:00Z"});
        assert_eq!(target_payload(&target(Some("{\"a\":1}"), None), &event), Bytes::from("{\"a\":1}"));
        assert_eq!(
            target_payload(&target(None, Some("$.time")), &event),
            Bytes::from("\"2026-12-04T12:00:00Z\"")
        );
        assert_eq!(target_payload(&target(None, None), &event), Bytes::from(event.to_string()));
    }
}
