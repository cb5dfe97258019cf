//! The operator CLI (`admin --help`); the logic is in `functions::admin`. Prints a new key
//! once, to stdout; errors go to stderr with a non-zero exit.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    functions::admin::main().await
}
