//! The public API of `QueueService`, as other parts of the server call it without HTTP.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use flicker_queue::{MessageAttributeValue, MessageAttributes, QueueError, QueueService};

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "000000000000";

async fn open(dir: &Path) -> QueueService {
    QueueService::open(dir, REGION, ACCOUNT).await.expect("the queue database opens")
}

fn attributes(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[tokio::test]
async fn send_receive_delete_by_arn_and_url() {
    let dir = tempfile::tempdir().unwrap();
    let queues = open(dir.path()).await;
    queues.create_queue("jobs", &BTreeMap::new()).await.unwrap();
    let arn = queues.arn("jobs");
    assert!(queues.queue_exists_by_arn(&arn));
    assert!(!queues.queue_exists_by_arn("arn:aws:sqs:us-east-1:000000000000:other"));
    assert_eq!(queues.visibility_timeout(&arn).unwrap(), 30);

    let colour = MessageAttributeValue {
        data_type: "String".into(),
        string_value: Some("red".into()),
        binary_value: None,
    };
    let message_attributes = MessageAttributes::from([("colour".to_string(), colour)]);
    let id = queues.send_message(&arn, "body".into(), message_attributes.clone()).await.unwrap();

    let url = "http://any-host:1234/000000000000/jobs";
    let received = queues.receive(url, 10, Some(60), None).await.unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].message_id, id);
    assert_eq!(received[0].message_attributes, message_attributes);
    assert_eq!(received[0].attributes["ApproximateReceiveCount"], "1");
    assert!(queues.receive(&arn, 10, None, None).await.unwrap().is_empty());

    queues.delete(&arn, &received[0].receipt_handle).await.unwrap();
    assert_eq!(queues.depths()[0].1.in_flight, 0);
}

#[tokio::test]
async fn change_visibility_makes_a_message_visible_again() {
    let dir = tempfile::tempdir().unwrap();
    let queues = open(dir.path()).await;
    queues.create_queue("q", &BTreeMap::new()).await.unwrap();
    queues.send_message("q", "m".into(), MessageAttributes::new()).await.unwrap();
    let first = queues.receive("q", 1, None, None).await.unwrap();
    queues.change_visibility("q", &first[0].receipt_handle, 0).await.unwrap();

    let second = queues.receive("q", 1, None, None).await.unwrap();
    assert_eq!(second[0].attributes["ApproximateReceiveCount"], "2");
    let bogus = queues.change_visibility("q", "bogus", 0).await;
    assert!(matches!(bogus, Err(QueueError::ReceiptHandleIsInvalid(_))));
}

#[tokio::test]
async fn waiting_receive_is_woken_by_a_send() {
    let dir = tempfile::tempdir().unwrap();
    let queues = open(dir.path()).await;
    queues.create_queue("q", &BTreeMap::new()).await.unwrap();
    let receiver = queues.clone();
    let waiting =
        tokio::spawn(async move { receiver.receive("q", 1, None, Some(Duration::from_secs(20))).await });
    tokio::task::yield_now().await;
    queues.send_message("q", "wake".into(), MessageAttributes::new()).await.unwrap();

    let received = tokio::time::timeout(Duration::from_secs(15), waiting).await.unwrap().unwrap().unwrap();
    assert_eq!(received[0].body, "wake");
}

#[tokio::test]
async fn redrive_moves_a_message_after_max_receive_count() {
    let dir = tempfile::tempdir().unwrap();
    let queues = open(dir.path()).await;
    queues.create_queue("dlq", &BTreeMap::new()).await.unwrap();
    let policy = format!(r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":1}}"#, queues.arn("dlq"));
    queues.create_queue("q", &attributes(&[("RedrivePolicy", &policy)])).await.unwrap();
    let id = queues.send_message("q", "poison".into(), MessageAttributes::new()).await.unwrap();

    assert_eq!(queues.receive("q", 1, Some(0), None).await.unwrap().len(), 1);
    assert!(queues.receive("q", 1, Some(0), None).await.unwrap().is_empty());
    let dead = queues.receive("dlq", 1, None, None).await.unwrap();
    assert_eq!(dead[0].message_id, id);
}

#[tokio::test]
async fn queues_and_receive_counts_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let queues = open(dir.path()).await;
        queues.create_queue("q", &attributes(&[("VisibilityTimeout", "0")])).await.unwrap();
        queues.send_message("q", "kept".into(), MessageAttributes::new()).await.unwrap();
        queues.receive("q", 1, None, None).await.unwrap();
    }
    let queues = open(dir.path()).await;
    assert_eq!(queues.visibility_timeout("q").unwrap(), 0);
    let received = queues.receive("q", 1, None, None).await.unwrap();
    assert_eq!(received[0].body, "kept");
    assert_eq!(received[0].attributes["ApproximateReceiveCount"], "2");
}

#[tokio::test]
async fn unknown_queue_is_reported_by_every_operation() {
    let dir = tempfile::tempdir().unwrap();
    let queues = open(dir.path()).await;
    let send = queues.send_message("missing", "m".into(), MessageAttributes::new()).await;
    assert!(matches!(send, Err(QueueError::NonExistentQueue(_))));
    let receive = queues.receive("missing", 1, None, None).await;
    assert!(matches!(receive, Err(QueueError::NonExistentQueue(_))));
    assert!(matches!(queues.visibility_timeout("missing"), Err(QueueError::NonExistentQueue(_))));
}
