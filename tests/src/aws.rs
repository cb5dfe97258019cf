//! The AWS emulator the tests run the AWS adapters against: moto's server, which
//! `scripts/test` installs, starts on a free loopback port and names in
//! `BAREF00T_TEST_AWS_ENDPOINT`.

use aws_config::SdkConfig;
use shared::domain::ids::random_base62;
use shared::store::dynamo::DynamoStore;

pub const ENDPOINT_VAR: &str = "BAREF00T_TEST_AWS_ENDPOINT";

/// The emulator's endpoint, or `None` (the caller skips) when it is not running. Under
/// `CI=true` a missing emulator fails the test instead: it is never skipped silently there.
pub fn endpoint() -> Option<String> {
    match std::env::var(ENDPOINT_VAR) {
        Ok(e) if !e.is_empty() => Some(e),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{ENDPOINT_VAR} is not set under CI: run the tests through scripts/test, which starts moto"
            );
            eprintln!("skipped: no AWS emulator ({ENDPOINT_VAR} is not set; scripts/test starts one)");
            None
        }
    }
}

pub fn config() -> Option<SdkConfig> {
    endpoint().map(|e| shared::aws::emulator_config(&e))
}

/// A fresh, empty table on the emulator (one per test, so tests never see each other's items).
pub async fn fresh_dynamo() -> Option<DynamoStore> {
    let config = config()?;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let table = format!("test-{}", random_base62(12));
    DynamoStore::create_table(&client, &table).await.expect("create the test table");
    Some(DynamoStore::new(client, table))
}
