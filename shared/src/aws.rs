//! AWS SDK configuration, built once per process (once per Lambda cold start).

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::{Credentials, SharedCredentialsProvider};

/// The SDK's standard configuration: region, credentials and endpoints from the environment
/// (`AWS_REGION`, the Lambda role's credentials, `AWS_ENDPOINT_URL` for an emulator, …).
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// Configuration for a local emulator at `endpoint` (moto): fixed dummy credentials and region,
/// so a developer's own AWS profile is never used by tests.
pub fn emulator_config(endpoint: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "testing", "testing", None, None, "emulator",
        )))
        .build()
}
