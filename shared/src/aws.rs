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
