//! AWS SDK configuration, built once per process (once per Lambda cold start).

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::{Credentials, SharedCredentialsProvider};

/// The SDK's standard configuration: region, credentials and endpoints from the environment
/// (`AWS_REGION`, the Lambda role's credentials, `AWS_ENDPOINT_URL` for an emulator, …).
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// The root certificates AWS service endpoints chain to, compiled in (PEM): Amazon Trust
/// Services' Amazon Root CA 1–4 and Starfield Services Root Certificate Authority – G2 (which
/// cross-signs Amazon Root CA 1), as in Mozilla's store (Debian's `ca-certificates`). AWS's
/// endpoints present Amazon Trust Services certificates.
pub const AWS_ROOTS_PEM: &[u8] = include_bytes!("../certs/aws-roots.pem");

/// [`sdk_config`] for a Lambda function (issue 16): the SDK's own HTTPS client (hyper and
/// rustls on aws-lc, as `default-https-client` builds it) trusting [`AWS_ROOTS_PEM`] only,
/// instead of reading and parsing the system's ~140 root certificates at every cold start
/// (the largest part of init; measured by `scripts/bench-lambda`, README "Performance").
/// The functions talk to AWS only (the webhook client, built on first use, keeps the
/// system's roots). `BAREF00T_SYSTEM_ROOTS=1` goes back to the system's roots (an endpoint
/// behind another CA, e.g. an inspecting proxy).
pub async fn lambda_sdk_config() -> SdkConfig {
    if std::env::var("BAREF00T_SYSTEM_ROOTS").is_ok_and(|v| v == "1") {
        return sdk_config().await;
    }
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider, TlsContext, TrustStore};
    let trust = TrustStore::empty().with_pem_certificate(AWS_ROOTS_PEM);
    // `build` never fails: it only stores what it is given.
    let tls = TlsContext::builder().with_trust_store(trust).build().expect("a TLS context");
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(tls)
        .build_https();
    aws_config::defaults(BehaviorVersion::latest()).http_client(http).load().await
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
