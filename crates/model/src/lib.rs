//! Lambda's data model: function configuration, names and ARNs, validation rules and the wire
//! types that clients see. Nothing here performs I/O.

pub mod arn;
pub mod error;
pub mod event_invoke;
pub mod function;
pub mod layer;
pub mod limits;
pub mod runtime;
pub mod time;
pub mod url;
pub mod validate;
pub mod versions;

pub use arn::{FunctionRef, Qualifier};
pub use error::ApiError;
pub use function::{FunctionConfig, FunctionConfiguration};
pub use runtime::{Language, RuntimeId};
pub use versions::FunctionSettings;
