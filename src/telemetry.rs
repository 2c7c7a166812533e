//! Structured logs with tracing, plain or JSON, to standard error (standard output is for the
//! commands' own output, e.g. `export`). Nothing clinical is ever logged (H8).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber; a bad filter is a start-up error naming `ACP_LOG`.
pub fn init(filter: &str, format: LogFormat) -> Result<(), String> {
    let filter = EnvFilter::try_new(filter)
        .map_err(|e| format!("ACP_LOG / --log: `{filter}` is not a valid log filter: {e}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let result = match format {
        LogFormat::Plain => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    result.map_err(|e| format!("logging could not start: {e}"))
}
