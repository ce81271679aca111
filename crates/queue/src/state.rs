//! The in-memory state of one queue: its messages and the order in which they become
//! visible, so that a receive takes the next due message without scanning.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use tokio::sync::Notify;

use crate::attributes::QueueSettings;
use crate::message::MessageAttributes;

/// A message held by a queue.
#[derive(Debug, Clone)]
pub(crate) struct Message {
    pub id: String,
    pub body: String,
    pub attributes: MessageAttributes,
    pub md5_of_body: String,
    pub md5_of_attributes: Option<String>,
    pub sent_ms: i64,
    pub sender_id: String,
    pub receive_count: u32,
    pub first_receive_ms: Option<i64>,
    pub visible_at_ms: i64,
    pub sequence: i64,
}

/// How many messages of a queue are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageCounts {
    /// Messages a receive would return now.
    pub visible: usize,
    /// Messages received and neither deleted nor visible again.
    pub in_flight: usize,
    /// Messages not yet received whose delay has not passed.
    pub delayed: usize,
}

/// One queue: attributes, settings and messages.
pub(crate) struct Queue {
    pub name: String,
    pub attributes: BTreeMap<String, String>,
    pub settings: QueueSettings,
    pub created_ms: i64,
    pub modified_ms: i64,
    /// Wakes receivers that wait for a message.
    pub notify: Arc<Notify>,
    messages: HashMap<String, Message>,
    /// Every message as (visible at, sequence, id): the first entries are the next due.
    schedule: BTreeSet<(i64, i64, String)>,
}

impl Queue {
    pub fn new(
        name: String,
        attributes: BTreeMap<String, String>,
        created_ms: i64,
        modified_ms: i64,
    ) -> Queue {
        let settings = QueueSettings::from_attributes(&attributes);
        Queue {
            name,
            attributes,
            settings,
            created_ms,
            modified_ms,
            notify: Arc::new(Notify::new()),
            messages: HashMap::new(),
            schedule: BTreeSet::new(),
        }
    }

    /// Replaces the attributes and the settings read from them.
    pub fn set_attributes(&mut self, attributes: BTreeMap<String, String>, modified_ms: i64) {
        self.settings = QueueSettings::from_attributes(&attributes);
        self.attributes = attributes;
        self.modified_ms = modified_ms;
    }

    pub fn insert(&mut self, message: Message) {
        self.schedule.insert((message.visible_at_ms, message.sequence, message.id.clone()));
        self.messages.insert(message.id.clone(), message);
    }

    pub fn remove(&mut self, id: &str) -> Option<Message> {
        let message = self.messages.remove(id)?;
        self.schedule.remove(&(message.visible_at_ms, message.sequence, message.id.clone()));
        Some(message)
    }

    pub fn get(&self, id: &str) -> Option<&Message> {
        self.messages.get(id)
    }

    /// Changes when a message becomes visible; returns its new state.
    pub fn reschedule(&mut self, id: &str, change: impl FnOnce(&mut Message)) -> Option<&Message> {
        let message = self.messages.get_mut(id)?;
        self.schedule.remove(&(message.visible_at_ms, message.sequence, message.id.clone()));
        change(message);
        self.schedule.insert((message.visible_at_ms, message.sequence, message.id.clone()));
        Some(message)
    }

    /// Returns the id of the next message visible at `now_ms`.
    pub fn next_due(&self, now_ms: i64) -> Option<String> {
        let (visible_at, _, id) = self.schedule.first()?;
        (*visible_at <= now_ms).then(|| id.clone())
    }

    /// When the next message that is invisible at `now_ms` becomes visible.
    pub fn next_visible_after(&self, now_ms: i64) -> Option<i64> {
        self.schedule.range((now_ms + 1, i64::MIN, String::new())..).next().map(|(at, _, _)| *at)
    }

    /// Removes the messages sent at or before `sent_before_ms` and returns their ids.
    pub fn remove_sent_before(&mut self, sent_before_ms: i64) -> Vec<String> {
        let expired: Vec<String> =
            self.messages.values().filter(|m| m.sent_ms <= sent_before_ms).map(|m| m.id.clone()).collect();
        for id in &expired {
            self.remove(id);
        }
        expired
    }

    /// Removes every message and returns their ids.
    pub fn clear(&mut self) -> Vec<String> {
        self.schedule.clear();
        self.messages.drain().map(|(id, _)| id).collect()
    }

    pub fn counts(&self, now_ms: i64) -> MessageCounts {
        let mut counts = MessageCounts::default();
        for message in self.messages.values() {
            if message.visible_at_ms <= now_ms {
                counts.visible += 1;
            } else if message.receive_count > 0 {
                counts.in_flight += 1;
            } else {
                counts.delayed += 1;
            }
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str, visible_at_ms: i64, sequence: i64) -> Message {
        Message {
            id: id.into(),
            body: "b".into(),
            attributes: MessageAttributes::new(),
            md5_of_body: String::new(),
            md5_of_attributes: None,
            sent_ms: 0,
            sender_id: String::new(),
            receive_count: 0,
            first_receive_ms: None,
            visible_at_ms,
            sequence,
        }
    }

    #[test]
    fn messages_come_due_in_order_of_visibility() {
        let mut queue = Queue::new("q".into(), BTreeMap::new(), 0, 0);
        queue.insert(message("late", 50, 1));
        queue.insert(message("early", 10, 2));
        assert_eq!(queue.next_due(5), None);
        assert_eq!(queue.next_visible_after(5), Some(10));
        assert_eq!(queue.next_due(10).as_deref(), Some("early"));
        queue.reschedule("early", |m| m.visible_at_ms = 100);
        assert_eq!(queue.next_due(60).as_deref(), Some("late"));
        assert_eq!(queue.counts(60), MessageCounts { visible: 1, in_flight: 0, delayed: 1 });
    }
}
