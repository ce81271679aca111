//! Message attributes and bodies: their validation against SQS's limits and the MD5 digests
//! SQS reports for them. Nothing here touches queue state.

use std::collections::BTreeMap;

use base64::Engine as _;
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

use crate::QueueError;

/// The maximum number of message attributes on one message.
pub const MAX_MESSAGE_ATTRIBUTES: usize = 10;

/// One message attribute, in the shape of the SQS JSON protocol. `BinaryValue` is base64 on
/// the wire and raw bytes here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MessageAttributeValue {
    pub data_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "base64_bytes")]
    pub binary_value: Option<Vec<u8>>,
}

/// Message attributes by name, in the byte order of their names (the order SQS digests them in).
pub type MessageAttributes = BTreeMap<String, MessageAttributeValue>;

mod base64_bytes {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<Vec<u8>>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(bytes) => serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<u8>>, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?;
        text.map(|text| base64::engine::general_purpose::STANDARD.decode(text.as_bytes()))
            .transpose()
            .map_err(serde::de::Error::custom)
    }
}

/// Computes the hex MD5 digest of a message body.
pub fn md5_of_body(body: &str) -> String {
    hex(&Md5::digest(body.as_bytes()))
}

/// Computes the hex MD5 digest SQS reports for message attributes, or `None` when there are none.
/// Each attribute in name order contributes its name, data type, a transport byte (1 for a
/// string value, 2 for a binary one) and its value, every string and value prefixed with its
/// length as four big-endian bytes.
pub fn md5_of_message_attributes(attributes: &MessageAttributes) -> Option<String> {
    if attributes.is_empty() {
        return None;
    }
    let mut digest = Md5::new();
    for (name, value) in attributes {
        update_field(&mut digest, name.as_bytes());
        update_field(&mut digest, value.data_type.as_bytes());
        if let Some(text) = &value.string_value {
            digest.update([1u8]);
            update_field(&mut digest, text.as_bytes());
        } else if let Some(bytes) = &value.binary_value {
            digest.update([2u8]);
            update_field(&mut digest, bytes);
        }
    }
    Some(hex(&digest.finalize()))
}

fn update_field(digest: &mut Md5, bytes: &[u8]) {
    digest.update((bytes.len() as u32).to_be_bytes());
    digest.update(bytes);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks a message body: not empty, and only the characters SQS allows (tab, newline,
/// carriage return and Unicode from U+0020 except surrogates, U+FFFE and U+FFFF).
pub fn validate_body(body: &str) -> Result<(), QueueError> {
    if body.is_empty() {
        return Err(QueueError::MissingParameter("MessageBody".into()));
    }
    match first_invalid_char(body) {
        Some(c) => Err(QueueError::InvalidMessageContents(format!("#x{:X}", c as u32))),
        None => Ok(()),
    }
}

/// Returns the first character of `text` that SQS does not allow in message bodies and
/// attribute values: everything outside the XML 1.0 character set.
pub(crate) fn first_invalid_char(text: &str) -> Option<char> {
    let allowed = |c: char| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..);
    text.chars().find(|c| !allowed(*c))
}

/// Checks message attributes against SQS's rules and returns the bytes they count towards
/// the message size limit.
pub fn validate_attributes(attributes: &MessageAttributes) -> Result<usize, QueueError> {
    if attributes.len() > MAX_MESSAGE_ATTRIBUTES {
        return Err(QueueError::InvalidParameterValue(format!(
            "Number of message attributes [{}] exceeds the allowed maximum [{MAX_MESSAGE_ATTRIBUTES}].",
            attributes.len()
        )));
    }
    let mut size = 0;
    for (name, value) in attributes {
        validate_attribute_name(name)?;
        size += name.len() + value.data_type.len() + validate_attribute_value(name, value)?;
    }
    Ok(size)
}

fn validate_attribute_name(name: &str) -> Result<(), QueueError> {
    let lower = name.to_ascii_lowercase();
    let valid = !name.is_empty()
        && name.len() <= 256
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..")
        && !lower.starts_with("aws.")
        && !lower.starts_with("amazon.");
    if valid {
        Ok(())
    } else {
        Err(QueueError::InvalidParameterValue(format!(
            "Message attribute name '{name}' is invalid. Names may only contain alphanumeric characters, \
             hyphens, underscores and periods, and must not start with AWS. or Amazon."
        )))
    }
}

/// Checks one attribute's type and value and returns the size of its value.
fn validate_attribute_value(name: &str, value: &MessageAttributeValue) -> Result<usize, QueueError> {
    let base = value.data_type.split('.').next().unwrap_or_default();
    let invalid = |reason: String| Err(QueueError::InvalidParameterValue(reason));
    let texts = [Some(value.data_type.as_str()), value.string_value.as_deref()];
    if let Some(c) = texts.into_iter().flatten().find_map(first_invalid_char) {
        return invalid(format!(
            "Message (user) attribute '{name}' contains invalid binary character '#x{:X}'.",
            c as u32
        ));
    }
    match base {
        "String" | "Number" => match &value.string_value {
            Some(text) if !text.is_empty() => {
                if base == "Number" && text.trim().parse::<f64>().is_err() {
                    return invalid(format!("Can't cast the value of message (user) attribute '{name}' to a number."));
                }
                Ok(text.len())
            }
            _ => invalid(format!(
                "The message attribute '{name}' must contain non-empty message attribute value for message attribute type '{base}'."
            )),
        },
        "Binary" => match &value.binary_value {
            Some(bytes) if !bytes.is_empty() => Ok(bytes.len()),
            _ => invalid(format!(
                "The message attribute '{name}' must contain non-empty message attribute value for message attribute type 'Binary'."
            )),
        },
        "" => invalid(format!("The message attribute '{name}' must contain non-empty message attribute type.")),
        _ => invalid(format!(
            "The type of message (user) attribute '{name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String."
        )),
    }
}

/// Encodes bytes as standard base64, as binary attribute values travel on the wire.
pub fn to_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(value: &str) -> MessageAttributeValue {
        MessageAttributeValue {
            data_type: "String".into(),
            string_value: Some(value.into()),
            binary_value: None,
        }
    }

    #[test]
    fn body_digest_is_plain_md5() {
        assert_eq!(md5_of_body("hello"), "5d41402abc4b2a76b9719d911017c592");
    }

    #[test]
    fn attribute_digest_matches_the_sqs_algorithm() {
        // Computed by hand from the published algorithm: name, type, transport byte, value.
        let mut expected = Md5::new();
        for part in [&b"a"[..], b"String"] {
            expected.update((part.len() as u32).to_be_bytes());
            expected.update(part);
        }
        expected.update([1u8]);
        expected.update(1u32.to_be_bytes());
        expected.update(b"x");
        let attributes = MessageAttributes::from([("a".to_string(), string("x"))]);
        assert_eq!(md5_of_message_attributes(&attributes), Some(hex(&expected.finalize())));
    }

    #[test]
    fn bodies_with_control_characters_are_rejected() {
        assert!(validate_body("ok\n").is_ok());
        assert!(matches!(validate_body("bad\u{1}"), Err(QueueError::InvalidMessageContents(_))));
    }

    #[test]
    fn attributes_need_a_known_type_and_a_value() {
        let mut attributes = MessageAttributes::from([("n".to_string(), string("abc"))]);
        attributes.get_mut("n").unwrap().data_type = "Number".into();
        assert!(validate_attributes(&attributes).is_err());
        attributes.get_mut("n").unwrap().data_type = "String.custom".into();
        assert!(validate_attributes(&attributes).is_ok());
        attributes.insert("AWS.x".into(), string("y"));
        assert!(validate_attributes(&attributes).is_err());
    }
}
