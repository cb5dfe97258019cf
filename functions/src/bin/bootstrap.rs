//! The Lambda entry point of every function in template.yaml but the shared report's
//! (`_HANDLER` picks the route or worker); the logic is in `functions::lambda`. It renders no
//! PDF, so Typst is not linked in (that function runs `report-pdf`).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    functions::logging::init(true);
    match functions::lambda::main(None).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bootstrap: {e}");
            ExitCode::FAILURE
        }
    }
}
