use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    functions::logging::init(false);
    match functions::dev_server::run_from_env(&std::env::args().skip(1).collect::<Vec<_>>()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dev-server: {e}");
            ExitCode::FAILURE
        }
    }
}
