//! Receipt handles: opaque strings that name the queue and the message of one receive.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::QueueError;

/// Makes the receipt handle of one receive of message `id` from queue `queue`.
pub(crate) fn encode(queue: &str, id: &str) -> String {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    URL_SAFE_NO_PAD.encode(format!("{queue} {id} {nonce}"))
}

/// Reads the message id from a receipt handle of queue `queue`.
pub(crate) fn decode(queue: &str, handle: &str) -> Result<String, QueueError> {
    let invalid = || QueueError::ReceiptHandleIsInvalid(handle.to_string());
    let bytes = URL_SAFE_NO_PAD.decode(handle.trim().as_bytes()).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    match text.split(' ').collect::<Vec<_>>()[..] {
        [name, id, _nonce] if name == queue && !id.is_empty() => Ok(id.to_string()),
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handle_names_its_queue_and_message() {
        let handle = encode("orders", "m-1");
        assert_eq!(decode("orders", &handle).unwrap(), "m-1");
        assert!(decode("other", &handle).is_err());
        assert!(decode("orders", "not a handle").is_err());
    }
}
