//! The Lambda entry point of every function in template.yaml (`_HANDLER` picks the route or
//! worker); the logic is in `functions::lambda`.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    functions::logging::init(true);
    match functions::lambda::main().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bootstrap: {e}");
            ExitCode::FAILURE
        }
    }
}
