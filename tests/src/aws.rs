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

/// A fault put into the SDK client of a store on the emulator: once armed, the next `ok` calls
/// of one DynamoDB operation go through and every later one fails before it is sent (as a
/// network fault would, retries included), until [`Fault::clear`]. For "the server failed
/// midway" tests: the store answers `StoreError::Backend`, the API 500 or an `INTERNAL` item.
#[derive(Clone, Debug, Default)]
pub struct Fault {
    /// The operation (as in `X-Amz-Target`, e.g. `TransactWriteItems`) and the calls still let through.
    armed: std::sync::Arc<std::sync::Mutex<Option<(String, usize)>>>,
}

impl Fault {
    pub fn arm(&self, operation: &str, ok: usize) {
        *self.armed.lock().unwrap() = Some((operation.to_string(), ok));
    }

    pub fn clear(&self) {
        *self.armed.lock().unwrap() = None;
    }
}

impl aws_sdk_dynamodb::config::Intercept for Fault {
    fn name(&self) -> &'static str {
        "tests::aws::Fault"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _: &aws_sdk_dynamodb::config::RuntimeComponents,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let target = context.request().headers().get("x-amz-target").unwrap_or("");
        let mut armed = self.armed.lock().unwrap();
        match armed.as_mut() {
            Some((op, ok)) if target.rsplit('.').next() == Some(op.as_str()) => {
                if *ok == 0 {
                    return Err(format!("injected fault: {op}").into());
                }
                *ok -= 1;
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// Counts the items DynamoDB read for the `Query` calls of a client (the sum of their
/// `ScannedCount`: what a call costs, before any filter), for tests of how much a list reads.
#[derive(Clone, Debug, Default)]
pub struct ReadMeter {
    scanned: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl ReadMeter {
    /// Items read since the last `take`.
    pub fn take(&self) -> usize {
        self.scanned.swap(0, std::sync::atomic::Ordering::SeqCst)
    }
}

impl aws_sdk_dynamodb::config::Intercept for ReadMeter {
    fn name(&self) -> &'static str {
        "tests::aws::ReadMeter"
    }

    fn read_after_deserialization(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::AfterDeserializationInterceptorContextRef<'_>,
        _: &aws_sdk_dynamodb::config::RuntimeComponents,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        if let Ok(out) = context.output_or_error() {
            if let Some(q) = out.downcast_ref::<aws_sdk_dynamodb::operation::query::QueryOutput>() {
                self.scanned.fetch_add(q.scanned_count.max(0) as usize, std::sync::atomic::Ordering::SeqCst);
            }
        }
        Ok(())
    }
}

/// [`fresh_dynamo`] whose client carries `interceptor` (a [`Fault`], a [`ReadMeter`]).
pub async fn fresh_dynamo_with(
    interceptor: &(impl aws_sdk_dynamodb::config::Intercept + Clone + 'static),
) -> Option<DynamoStore> {
    let config = config()?;
    let dynamo = aws_sdk_dynamodb::config::Builder::from(&config).interceptor(interceptor.clone()).build();
    let client = aws_sdk_dynamodb::Client::from_conf(dynamo);
    let table = format!("test-{}", random_base62(12));
    DynamoStore::create_table(&client, &table).await.expect("create the test table");
    Some(DynamoStore::new(client, table))
}

/// Verifies `identity` (a domain or an address) in SES on the emulator, as an operator does
/// before SES sends from it (moto, like SES, refuses a sender it has no verified identity for).
pub async fn verify_mail_identity(sdk: &SdkConfig, identity: &str) {
    aws_sdk_sesv2::Client::new(sdk)
        .create_email_identity()
        .email_identity(identity)
        .send()
        .await
        .unwrap_or_else(|e| panic!("verify {identity}: {}", aws_sdk_sesv2::error::DisplayErrorContext(e)));
}

/// A fresh sender domain, verified in SES on the emulator, and the SES mailer: for tests of the
/// SES adapter. Returns (mailer, sender address at that domain).
pub async fn ses_mailer() -> Option<(shared::mail::ses::SesMailer, shared::domain::email::Email)> {
    let sdk = config()?;
    let domain = format!("{}.mail.example", random_base62(10).to_ascii_lowercase());
    verify_mail_identity(&sdk, &domain).await;
    let from = shared::domain::email::Email::parse(&format!("no-reply@{domain}")).expect("an address");
    Some((shared::mail::ses::SesMailer::new(aws_sdk_sesv2::Client::new(&sdk)), from))
}

/// One message moto's SES recorded as sent (its internal record: the envelope and the raw bytes).
#[derive(Clone, Debug)]
pub struct SesSent {
    pub id: String,
    pub source: String,
    pub destinations: Vec<String>,
    pub raw: String,
}

/// Every raw message moto's SES has recorded, read from moto's own model dump
/// (`/moto-api/data.json`): what SES was handed, not what the client believes it sent.
pub async fn ses_sent() -> Vec<SesSent> {
    let Some(endpoint) = endpoint() else { return Vec::new() };
    // moto serialises every model of every service for this dump, and a write from a test
    // running beside this one can change a model mid-dump (moto answers 500 then): ask again.
    let mut dump = None;
    for _ in 0..5 {
        let answer = reqwest::get(format!("{endpoint}/moto-api/data.json")).await.expect("moto's model dump");
        if answer.status().is_success() {
            dump = Some(answer.json::<serde_json::Value>().await.expect("JSON"));
            break;
        }
    }
    let dump = dump.expect("moto's model dump answered 500 five times");
    dump["ses"]["RawMessage"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|m| SesSent {
                    id: m["id"].as_str().unwrap_or_default().to_string(),
                    source: m["source"].as_str().unwrap_or_default().to_string(),
                    destinations: m["destinations"]
                        .as_array()
                        .map(|d| d.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
                        .unwrap_or_default(),
                    raw: m["raw_data"].as_str().unwrap_or_default().to_string(),
                })
                .collect()
        })
        .unwrap_or_default()
}
