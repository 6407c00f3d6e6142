//! Shared AWS SDK setup: one `SdkConfig` per process, pointed at a local endpoint when one is configured.

/// Loads the SDK configuration from the environment (region, credentials), overriding the endpoint for local
/// emulators such as moto.
pub async fn load_sdk_config(endpoint: Option<&str>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// What an SDK call failure says about itself: the service's error code and message (both empty for transport
/// failures such as a refused connection) and a description fit for logs and `Unavailable` errors.
pub struct SdkFailure {
    pub code: String,
    pub message: String,
    pub detail: String,
}

impl SdkFailure {
    pub fn of<E, R>(err: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        let code = err.code().unwrap_or_default().to_string();
        let message = err.message().unwrap_or_default().to_string();
        let detail = if code.is_empty() {
            aws_smithy_types::error::display::DisplayErrorContext(err).to_string()
        } else {
            format!("{code}: {message}")
        };
        Self {
            code,
            message,
            detail,
        }
    }
}
