//! Pull event sources: event source mappings that connect a queue to a function, their
//! control plane, and the pollers that receive messages, invoke the function through the
//! engine and delete what it processed. The queue itself is reached through [`QueueSource`];
//! this crate does not parse HTTP.

pub mod filter;
pub mod mapping;
mod metrics;
mod poller;
mod queue_service;
pub mod record;
mod registry;
pub mod source;

pub use mapping::{
    CreateEventSourceMappingRequest, EventSourceMappingConfiguration, UpdateEventSourceMappingRequest,
};
pub use metrics::MappingMetrics;
pub use registry::{EventSourceMappingList, EventSourceMappings, StartPollersError};
pub use source::{MessageAttribute, QueueSource, ReceivedMessage, SourceError};
