//! Configuration: command-line flags, each with an `ACP_*` environment variable. A malformed
//! value or an unknown `ACP_*` variable (a typo that would otherwise be silently ignored) stops
//! start-up with a message naming it. Database URLs are only ever shown masked.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Every environment variable the service reads. `ACP_TEST_*` are the test suite's own.
pub const KNOWN_ENVIRONMENT: &[&str] = &[
    "ACP_DATABASE_URL",
    "ACP_DB_POOL_SIZE",
    "ACP_DB_ACQUIRE_TIMEOUT_MS",
    "ACP_LOG",
    "ACP_LOG_FORMAT",
    "ACP_ACTOR",
    "ACP_LISTEN",
    "ACP_BODY_LIMIT",
    "ACP_WORKERS",
    "ACP_SHUTDOWN_TIMEOUT",
    "ACP_PUBLIC_URL",
    "ACP_AUTH_CLIENTS",
    "ACP_AUTH_SIGNING_KEYS",
    "ACP_AUTH_TOKEN_LIFETIME",
    "ACP_AUTH_JWKS_CACHE",
    "ACP_AUTH_EXTERNAL_ISSUER",
    "ACP_AUTH_EXTERNAL_AUDIENCE",
    "ACP_AUTH_EXTERNAL_JWKS_URI",
    "ACP_RATE_LIMIT",
    "ACP_RATE_LIMIT_BURST",
    "ACP_CORS_ORIGINS",
    "ACP_TLS_CERT",
    "ACP_TLS_KEY",
];

/// acp-fhir: end-of-life care plans, kept safely and served as FHIR R4.
#[derive(Debug, Parser)]
#[command(name = "acp-fhir", version, about, long_about = None)]
pub struct Cli {
    /// Database URL: `sqlite:PATH` (created if missing), `sqlite::memory:`, or
    /// `postgres://user:password@host:5432/database`.
    #[arg(
        long,
        env = "ACP_DATABASE_URL",
        default_value = "sqlite:acp-fhir.db",
        global = true,
        hide_env_values = true
    )]
    pub database_url: String,

    /// Most database connections open at once.
    #[arg(long, env = "ACP_DB_POOL_SIZE", default_value_t = 10, global = true,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub db_pool_size: u32,

    /// Milliseconds a request waits for a free database connection before it gets 503.
    #[arg(long, env = "ACP_DB_ACQUIRE_TIMEOUT_MS", default_value_t = 5000, global = true,
          value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub db_acquire_timeout_ms: u64,

    /// Log filter (tracing syntax), e.g. `info` or `acp_fhir=debug,info`.
    #[arg(long, env = "ACP_LOG", default_value = "info", global = true)]
    pub log: String,

    /// Log format.
    #[arg(long, env = "ACP_LOG_FORMAT", value_enum, default_value_t = LogFormat::Plain, global = true)]
    pub log_format: LogFormat,

    /// The identity recorded as the author of changes made through this instance (until
    /// authentication names the caller).
    #[arg(long, env = "ACP_ACTOR", default_value = "local", global = true)]
    pub actor: String,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The database pool settings.
    pub fn store_options(&self) -> crate::store::StoreOptions {
        crate::store::StoreOptions {
            pool_size: self.db_pool_size,
            acquire_timeout: std::time::Duration::from_millis(self.db_acquire_timeout_ms),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Plain,
    /// One JSON object per line.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service.
    Serve(ServeArgs),
    /// Import plans from an NDJSON file (one plan a line).
    Import(ImportArgs),
    /// Export plans as NDJSON to standard output (or a file).
    Export(ExportArgs),
    /// Manage the client registry.
    #[command(subcommand)]
    Clients(ClientsCommand),
    /// Get an access token for a registered client (signs a client assertion with its private
    /// key and exchanges it at the running service); the token alone is the last line.
    Token(TokenArgs),
    /// Generate an ES384 (EC P-384) private key, e.g. for the service's token signing.
    Keygen(KeygenArgs),
    /// Write synthetic plans (test-range NHS numbers) as NDJSON for `import`, e.g. for load
    /// tests: the same lines for the same seed.
    Generate(GenerateArgs),
}

/// `generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// How many plans: one per person up to 909,091 (the valid NHS numbers of the 999 test
    /// range), then earlier revoked plans of the first people (at most twice that in all).
    #[arg(long)]
    pub count: usize,
    /// The random seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// `clients …`.
#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Register a new client: generates its key pair, adds it with its public key to the
    /// registry file (created if missing) and writes the private key beside it.
    Add(ClientsAddArgs),
}

/// `clients add`.
#[derive(Debug, Args)]
pub struct ClientsAddArgs {
    /// The registry file (TOML, or JSON by extension).
    #[arg(long, env = "ACP_AUTH_CLIENTS")]
    pub clients: PathBuf,
    /// The new client's id.
    #[arg(long)]
    pub id: String,
    /// What the system is.
    #[arg(long)]
    pub name: String,
    /// The ODS code of the organisation that runs it.
    #[arg(long)]
    pub organisation: String,
    /// A scope it may be granted (repeat, or space-separate), e.g. `system/*.rs`.
    #[arg(long = "scope", required = true)]
    pub scopes: Vec<String>,
    /// It may override a withdrawn consent to share, stating a reason.
    #[arg(long)]
    pub emergency_override: bool,
    /// It is trusted to name its end user in X-Request-User.
    #[arg(long)]
    pub trusted_user_headers: bool,
    /// Where to write the private key (default: `<id>.key.pem` beside the registry).
    #[arg(long)]
    pub key_out: Option<PathBuf>,
}

/// `token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The client id.
    #[arg(long)]
    pub client: String,
    /// The scopes wanted, space-separated.
    #[arg(long, default_value = "system/*.rs")]
    pub scope: String,
    /// The client's private key (PKCS#8 PEM).
    #[arg(long)]
    pub key: PathBuf,
    /// The service's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
}

/// `keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write the private key (PKCS#8 PEM, mode 0600); refuses to overwrite.
    #[arg(long)]
    pub out: PathBuf,
}

/// `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "ACP_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Load the synthetic demo plans (if not there yet) and print example requests.
    #[arg(long)]
    pub demo: bool,

    /// Largest request body accepted, in bytes.
    #[arg(long, env = "ACP_BODY_LIMIT", default_value_t = crate::http::DEFAULT_BODY_LIMIT as u64,
          value_parser = clap::value_parser!(u64).range(1024..=64 * 1024 * 1024))]
    pub body_limit: u64,

    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "ACP_WORKERS", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub workers: Option<u16>,

    /// Seconds in-flight requests get to finish after SIGTERM.
    #[arg(long, env = "ACP_SHUTDOWN_TIMEOUT", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(0..=600))]
    pub shutdown_timeout: u64,

    /// The base URL clients reach the service at (issuer of its tokens; client assertions
    /// must name `<public-url>/auth/token` as audience). Default: `http://<listen address>`.
    #[arg(long, env = "ACP_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// The client registry file (TOML, or JSON by extension); re-read when it changes.
    #[arg(long, env = "ACP_AUTH_CLIENTS")]
    pub clients: Option<PathBuf>,

    /// The service's token signing keys (PKCS#8 PEM files, comma-separated): the first signs,
    /// all verify, so a new key can be put first while tokens signed by the old one are still
    /// accepted. Without any, a key is generated at start (tokens do not survive a restart).
    #[arg(long, env = "ACP_AUTH_SIGNING_KEYS", value_delimiter = ',')]
    pub signing_keys: Vec<PathBuf>,

    /// Lifetime of the access tokens issued, in seconds.
    #[arg(long, env = "ACP_AUTH_TOKEN_LIFETIME", default_value_t = 300,
          value_parser = clap::value_parser!(i64).range(30..=3600))]
    pub token_lifetime: i64,

    /// Seconds fetched key sets (client or identity provider `jwks_uri`) are kept.
    #[arg(long, env = "ACP_AUTH_JWKS_CACHE", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(10..=86_400))]
    pub jwks_cache: u64,

    /// An external identity provider whose access tokens are accepted: its issuer (`iss`).
    #[arg(long, env = "ACP_AUTH_EXTERNAL_ISSUER", requires_all = ["external_audience", "external_jwks_uri"])]
    pub external_issuer: Option<String>,

    /// The audience (`aud`) its tokens must carry for this service.
    #[arg(long, env = "ACP_AUTH_EXTERNAL_AUDIENCE", requires = "external_issuer")]
    pub external_audience: Option<String>,

    /// Where its public keys are published.
    #[arg(long, env = "ACP_AUTH_EXTERNAL_JWKS_URI", requires = "external_issuer")]
    pub external_jwks_uri: Option<String>,

    /// Requests per second each client may make (a client's registration may set its own).
    #[arg(long, env = "ACP_RATE_LIMIT", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub rate_limit: u32,

    /// Bursts of up to this many seconds' worth of requests are allowed.
    #[arg(long, env = "ACP_RATE_LIMIT_BURST", default_value_t = 2,
          value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub rate_limit_burst: u32,

    /// Origins allowed cross-origin (CORS) requests, comma-separated; none by default.
    #[arg(long, env = "ACP_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, env = "ACP_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The TLS private key (PEM).
    #[arg(long, env = "ACP_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

/// `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The NDJSON file.
    pub file: PathBuf,

    /// Stop at the first bad line instead of reporting and skipping it.
    #[arg(long)]
    pub strict: bool,

    /// Print the outcome of every line on standard output.
    #[arg(long, short)]
    pub verbose: bool,
}

/// `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Include revoked and entered-in-error plans (by default only plans of record: active,
    /// or completed after death).
    #[arg(long)]
    pub all: bool,

    /// Every version of each plan, oldest first, instead of the current one: what `import`
    /// needs to move a database to another backend with its full history.
    #[arg(long)]
    pub history: bool,

    /// Write to this file instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// Refuses unknown `ACP_*` variables, so a typo is an error rather than a silent default.
pub fn check_environment<I: IntoIterator<Item = (String, String)>>(vars: I) -> Result<(), String> {
    let unknown: Vec<String> = vars
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| {
            name.starts_with("ACP_")
                && !name.starts_with("ACP_TEST_")
                && !KNOWN_ENVIRONMENT.contains(&name.as_str())
        })
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "unknown environment variable(s) {}: the known ones are {}",
            unknown.join(", "),
            KNOWN_ENVIRONMENT.join(", ")
        ))
    }
}

/// Checks the database URL names a backend this build has.
pub fn check_database_url(url: &str) -> Result<(), String> {
    if url.starts_with("sqlite:")
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://")
    {
        Ok(())
    } else {
        Err(format!(
            "ACP_DATABASE_URL / --database-url: `{}` is not a supported database URL (use \
             sqlite:PATH or postgres://user:password@host/database)",
            crate::store::masked_url(url)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(names: &[&str]) -> Vec<(String, String)> {
        names
            .iter()
            .map(|n| ((*n).to_owned(), String::new()))
            .collect()
    }

    #[test]
    fn unknown_acp_variables_are_refused_by_name() {
        let error = check_environment(vars(&["ACP_LSTEN", "PATH"]))
            .err()
            .unwrap_or_default();
        assert!(error.contains("ACP_LSTEN"), "{error}");
        assert!(check_environment(vars(&["ACP_LISTEN", "ACP_TEST_POSTGRES_URL", "HOME"])).is_ok());
    }

    #[test]
    fn every_env_named_in_the_flags_is_known() {
        use clap::CommandFactory;
        let mut command = Cli::command();
        command.build();
        let mut names = Vec::new();
        let mut collect = |cmd: &clap::Command| {
            for arg in cmd.get_arguments() {
                if let Some(env) = arg.get_env() {
                    names.push(env.to_string_lossy().into_owned());
                }
            }
        };
        collect(&command);
        for sub in command.get_subcommands() {
            collect(sub);
        }
        names.sort();
        names.dedup();
        let mut known: Vec<String> = KNOWN_ENVIRONMENT.iter().map(|s| (*s).to_owned()).collect();
        known.sort();
        assert_eq!(names, known);
    }

    #[test]
    fn malformed_values_stop_start_up() {
        let parsed = Cli::try_parse_from(["acp-fhir", "serve", "--listen", "nowhere"]);
        let message = parsed.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("--listen"), "{message}");
        assert!(Cli::try_parse_from(["acp-fhir", "serve", "--body-limit", "10"]).is_err());
        assert!(Cli::try_parse_from(["acp-fhir", "serve", "--log-format", "xml"]).is_err());
        assert!(Cli::try_parse_from(["acp-fhir", "serve", "--listen", "127.0.0.1:0"]).is_ok());
    }

    #[test]
    fn database_urls_are_checked_and_masked() {
        assert!(check_database_url("sqlite:acp.db").is_ok());
        assert!(check_database_url("postgres://acp:pw@db:5432/acp").is_ok());
        let error = check_database_url("mysql://u:pw@h/db")
            .err()
            .unwrap_or_default();
        assert!(error.contains("***") && !error.contains("pw"), "{error}");
    }
}
