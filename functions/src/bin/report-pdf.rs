//! The Lambda entry point of the shared report's function (`public.reports.get`, template.yaml):
//! `bootstrap` with the report's PDF renderer, Typst, which only this function needs (issue
//! 17); the logic is in `functions::lambda`.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    functions::logging::init(true);
    match functions::lambda::main(Some(shared::report_pdf::render)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("report-pdf: {e}");
            ExitCode::FAILURE
        }
    }
}
