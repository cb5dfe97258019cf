use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    functions::logging::init(false);
    match functions::dev_server::run_from_env().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dev-server: {e}");
            ExitCode::FAILURE
        }
    }
}
