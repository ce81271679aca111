//! Errors of queue operations, with the error names SQS gives each case.

use flicker_store::StoreError;

/// An error of a queue operation. The message of each variant is the one sent to clients.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// the queue named does not exist
    #[error("The specified queue does not exist.")]
    NonExistentQueue(String),
    /// a queue of that name exists with other attribute values
    #[error("A queue already exists with the same name and a different value for attribute {attribute}")]
    QueueAlreadyExists { name: String, attribute: String },
    /// a parameter has a value outside its limits
    #[error("{0}")]
    InvalidParameterValue(String),
    /// a required parameter is missing
    #[error("The request must contain the parameter {0}.")]
    MissingParameter(String),
    /// an attribute name is not one of SQS's
    #[error("Unknown Attribute {0}.")]
    InvalidAttributeName(String),
    /// a queue attribute has a value outside its limits
    #[error("Invalid value for the parameter {0}.")]
    InvalidAttributeValue(String),
    /// a receipt handle is not one this service gave out
    #[error("The input receipt handle \"{0}\" is not a valid receipt handle.")]
    ReceiptHandleIsInvalid(String),
    /// the message of a receipt handle is not in flight
    #[error("Value {0} for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change.")]
    MessageNotInflight(String),
    /// a message body contains characters SQS does not allow
    #[error("Invalid binary character in the message body: {0}")]
    InvalidMessageContents(String),
    /// a batch has more than ten entries
    #[error("Maximum number of entries per request are 10. You have sent {0}.")]
    TooManyEntriesInBatchRequest(usize),
    /// a batch has no entries
    #[error("There should be at least one {0} in the request.")]
    EmptyBatchRequest(&'static str),
    /// two entries of a batch share an id
    #[error("Id {0} repeated.")]
    BatchEntryIdsNotDistinct(String),
    /// a batch entry id has characters or a length SQS does not allow
    #[error("A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long: {0}")]
    InvalidBatchEntryId(String),
    /// the messages of a batch are together larger than the limit
    #[error("Batch requests cannot be longer than 262144 bytes. You have sent {0} bytes.")]
    BatchRequestTooLong(usize),
    /// the queue store failed
    #[error("the queue store failed: {0}")]
    Store(#[from] StoreError),
    /// a blocking store task did not finish
    #[error("a queue store task failed: {0}")]
    Task(String),
}

/// The wire form of an error: the shape name of the JSON protocol, the code of the query
/// protocol, the HTTP status and whether the sender is at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode {
    pub shape: &'static str,
    pub query_code: &'static str,
    pub status: u16,
    pub sender_fault: bool,
}

const fn sender(shape: &'static str, query_code: &'static str, status: u16) -> ErrorCode {
    ErrorCode { shape, query_code, status, sender_fault: true }
}

impl QueueError {
    /// Returns the wire names and status of this error, as SQS sends them.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::NonExistentQueue(_) => {
                sender("QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", 400)
            }
            Self::QueueAlreadyExists { .. } => sender("QueueNameExists", "QueueAlreadyExists", 400),
            Self::InvalidParameterValue(_) => sender("InvalidParameterValue", "InvalidParameterValue", 400),
            Self::MissingParameter(_) => sender("MissingParameter", "MissingParameter", 400),
            Self::InvalidAttributeName(_) => sender("InvalidAttributeName", "InvalidAttributeName", 400),
            Self::InvalidAttributeValue(_) => sender("InvalidAttributeValue", "InvalidAttributeValue", 400),
            Self::ReceiptHandleIsInvalid(_) => {
                sender("ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", 404)
            }
            Self::MessageNotInflight(_) => {
                sender("MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight", 400)
            }
            Self::InvalidMessageContents(_) => {
                sender("InvalidMessageContents", "InvalidMessageContents", 400)
            }
            Self::TooManyEntriesInBatchRequest(_) => sender(
                "TooManyEntriesInBatchRequest",
                "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
                400,
            ),
            Self::EmptyBatchRequest(_) => {
                sender("EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest", 400)
            }
            Self::BatchEntryIdsNotDistinct(_) => {
                sender("BatchEntryIdsNotDistinct", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400)
            }
            Self::InvalidBatchEntryId(_) => {
                sender("InvalidBatchEntryId", "AWS.SimpleQueueService.InvalidBatchEntryId", 400)
            }
            Self::BatchRequestTooLong(_) => {
                sender("BatchRequestTooLong", "AWS.SimpleQueueService.BatchRequestTooLong", 400)
            }
            Self::Store(_) | Self::Task(_) => ErrorCode {
                shape: "InternalError",
                query_code: "InternalError",
                status: 500,
                sender_fault: false,
            },
        }
    }
}
