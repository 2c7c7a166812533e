//! The `acp-fhir` binary: parse the configuration, start logging, run the command.

use std::process::ExitCode;

use acp_fhir::config::{check_environment, Cli};
use clap::Parser;

/// mimalloc instead of the system allocator: building and serialising FHIR resources makes many
/// small short-lived allocations, and glibc's malloc/free were about 15% of the server's CPU
/// under load (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(message) = check_environment(std::env::vars()) {
        eprintln!("acp-fhir: {message}");
        return ExitCode::from(2);
    }
    if let Err(message) = acp_fhir::telemetry::init(&cli.log, cli.log_format) {
        eprintln!("acp-fhir: {message}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("acp-fhir: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(acp_fhir::commands::run(cli)) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("acp-fhir: {message}");
            ExitCode::FAILURE
        }
    }
}
