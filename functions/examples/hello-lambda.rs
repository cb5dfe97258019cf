//! The reference for `scripts/bench-lambda`: a hello-world `lambda_runtime` function, built
//! with the same profile and dependency versions as `bootstrap`, so its cold start is the
//! floor ours is compared with. It answers every event with a fixed 200 response.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(lambda_runtime::service_fn(|_event: lambda_runtime::LambdaEvent<serde_json::Value>| async {
        Ok::<_, lambda_runtime::Error>(serde_json::json!({ "statusCode": 200, "body": "hello" }))
    }))
    .await
}
