//! Lambda's fixed size limits, in bytes unless the name says otherwise.

/// Request and response payload of a synchronous invocation.
pub const SYNC_PAYLOAD: usize = 6 * 1024 * 1024;
/// A function response may exceed the request limit by this much (AWS reports 6291556 bytes).
pub const SYNC_RESPONSE: usize = SYNC_PAYLOAD + 100;
/// Payload of an `Event` invocation.
pub const ASYNC_PAYLOAD: usize = 1024 * 1024;
/// Payload of the legacy InvokeAsync operation.
pub const INVOKE_ASYNC_PAYLOAD: usize = 256 * 1024;
/// Zipped deployment package uploaded directly.
pub const CODE_ZIPPED: u64 = 50 * 1024 * 1024;
/// Unzipped deployment package, including layers.
pub const CODE_UNZIPPED: u64 = 250 * 1024 * 1024;
/// Environment variables, measured as their JSON serialization.
pub const ENVIRONMENT: usize = 4 * 1024;
/// The tail of the log returned by `X-Amz-Log-Type: Tail`.
pub const LOG_TAIL: usize = 4 * 1024;

pub const MEMORY_MIN_MB: u32 = 128;
pub const MEMORY_MAX_MB: u32 = 10240;
pub const MEMORY_DEFAULT_MB: u32 = 128;
pub const TIMEOUT_MIN_S: u32 = 1;
pub const TIMEOUT_MAX_S: u32 = 900;
pub const TIMEOUT_DEFAULT_S: u32 = 3;
pub const EPHEMERAL_MIN_MB: u32 = 512;
pub const EPHEMERAL_MAX_MB: u32 = 10240;
pub const EPHEMERAL_DEFAULT_MB: u32 = 512;
pub const FUNCTION_NAME_MAX: usize = 64;
pub const FUNCTION_ARN_MAX: usize = 140;
pub const DESCRIPTION_MAX: usize = 256;
