//! Receipt handles: opaque strings that name the queue and the message of one receive.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::QueueError;

/// The message a receipt handle names, and which receive of it gave the handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Receipt {
    pub id: String,
    /// The message's receive count at that receive; `None` for handles without one.
    pub receive_count: Option<u32>,
}

/// Makes the receipt handle of receive number `receive_count` of message `id` from queue `queue`.
pub(crate) fn encode(queue: &str, id: &str, receive_count: u32) -> String {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    URL_SAFE_NO_PAD.encode(format!("{queue} {id} {receive_count}-{nonce}"))
}

/// Reads the message and receive from a receipt handle of queue `queue`.
pub(crate) fn decode(queue: &str, handle: &str) -> Result<Receipt, QueueError> {
    let invalid = || QueueError::ReceiptHandleIsInvalid(handle.to_string());
    let bytes = URL_SAFE_NO_PAD.decode(handle.trim().as_bytes()).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    match text.split(' ').collect::<Vec<_>>()[..] {
        [name, id, token] if name == queue && !id.is_empty() => {
            let receive_count = token.split_once('-').and_then(|(count, _)| count.parse().ok());
            Ok(Receipt { id: id.to_string(), receive_count })
        }
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handle_names_its_queue_and_message() {
        let handle = encode("orders", "m-1", 3);
        assert_eq!(decode("orders", &handle).unwrap(), Receipt { id: "m-1".into(), receive_count: Some(3) });
        assert!(decode("other", &handle).is_err());
        assert!(decode("orders", "not a handle").is_err());
    }
}
