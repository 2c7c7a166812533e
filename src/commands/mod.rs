//! The subcommands: `serve`, `import`, `export`. Each opens the store the configuration names
//! and runs one job; errors come back as a message for the user and an exit code.

use std::io::IsTerminal;
use std::net::TcpListener;
use std::process::ExitCode;
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use tokio::io::BufReader;

pub mod auth;

use crate::clock::{Clock as _, SystemClock};
use crate::config::{
    Cli, ClientsCommand, Command, ExportArgs, GenerateArgs, ImportArgs, ServeArgs,
};
use crate::domain::ImportRecord;
use crate::http::{self, ServerSettings};
use crate::ndjson::{self, ImportStopped, LineResult};
use crate::service::PlanService;
use crate::store::{self, masked_url};

/// The synthetic demo plans, built into the binary so `serve --demo` works from anywhere.
pub const DEMO_PLANS: &str = include_str!("../../fixtures/plans.ndjson");

/// Exit code when an import skipped bad lines.
pub const EXIT_LINES_REJECTED: u8 = 2;

/// Runs the command the user asked for.
pub async fn run(cli: Cli) -> Result<ExitCode, String> {
    match &cli.command {
        Command::Clients(ClientsCommand::Add(args)) => return auth::clients_add(args),
        Command::Token(args) => return auth::token(args).await,
        Command::Keygen(args) => return auth::keygen(args),
        Command::Generate(args) => return generate(args),
        Command::Serve(_) | Command::Import(_) | Command::Export(_) => {}
    }
    crate::config::check_database_url(&cli.database_url)?;
    let store = store::connect_with(&cli.database_url, &cli.store_options())
        .await
        .map_err(|e| {
            format!(
                "cannot open the database {}: {e}",
                masked_url(&cli.database_url)
            )
        })?;
    let service = PlanService::new(store, Arc::new(SystemClock), cli.actor.clone());
    tracing::info!(database = %masked_url(&cli.database_url), "database open");
    // Every command that opened the store closes it: an import writes as much to the
    // write-ahead log as to the database (a gigabyte for 1,000,000 plans), and left behind the
    // next start empties it before it serves (5.5 s).
    let store = service.store();
    let outcome = match cli.command {
        Command::Serve(args) => serve(service, args).await,
        Command::Import(args) => import(service, args).await,
        Command::Export(args) => export(service, args).await,
        Command::Clients(_) | Command::Token(_) | Command::Keygen(_) | Command::Generate(_) => {
            Ok(ExitCode::SUCCESS)
        }
    };
    close(store.as_ref()).await;
    outcome
}

async fn serve(service: PlanService, args: ServeArgs) -> Result<ExitCode, String> {
    let demo_hint = if args.demo {
        Some(load_demo(&service).await?)
    } else {
        None
    };
    let listener = TcpListener::bind(args.listen).map_err(|e| {
        format!(
            "ACP_LISTEN / --listen: cannot listen on {}: {e}",
            args.listen
        )
    })?;
    let address = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
    let (authority, demo_client) = auth::build_authority(&args, address, service.store())?;
    let settings = ServerSettings {
        body_limit: usize::try_from(args.body_limit).unwrap_or(usize::MAX),
        workers: args.workers.map(usize::from),
        shutdown_timeout_secs: args.shutdown_timeout,
        rate_limit_per_second: args.rate_limit,
        rate_limit_burst_seconds: args.rate_limit_burst,
        cors_origins: args.cors_origins.clone(),
        tls: match (&args.tls_cert, &args.tls_key) {
            (Some(certificate), Some(key)) => Some(http::TlsFiles {
                certificate: certificate.clone(),
                key: key.clone(),
            }),
            _ => None,
        },
    };
    let base = auth::public_url(&args, address);
    let server = http::server(listener, service, authority, &settings)
        .map_err(|e| format!("cannot start the HTTP server: {e}"))?;
    tracing::info!(%address, "listening");
    if let Some(hint) = demo_hint {
        let mut text = hint.replace("{base}", &base);
        if let Some(client) = demo_client {
            text = format!(
                "Every /fhir and /api request needs an access token. The demo client `{}` ({}) \
                 has one, valid 8 hours:\n  export TOKEN='{}'\n\
                 For a fresh one (SMART Backend Services: a client assertion signed with its \
                 key, exchanged at {base}/auth/token):\n  \
                 export TOKEN=$(acp-fhir token --client {} --key {} --url {base})\n\
                 To write, the demo writer `{}` ({}):\n  \
                 export WRITE_TOKEN=$(acp-fhir token --client {} --key {} --scope '{}' --url {base})\n{text}",
                auth::DEMO_CLIENT,
                auth::DEMO_SCOPES,
                client.token,
                auth::DEMO_CLIENT,
                client.key_path.display(),
                auth::DEMO_WRITER,
                auth::DEMO_WRITER_SCOPES,
                auth::DEMO_WRITER,
                client.writer_key_path.display(),
                auth::DEMO_WRITER_SCOPES,
            );
        }
        println!("{text}");
    }
    server
        .await
        .map_err(|e| format!("the HTTP server failed: {e}"))?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Leaves the database as the next process should find it (a SQLite file's logs emptied),
/// rather than leaving it to SQLite as the last connection closes: a process can exit before
/// that has emptied a large log. Nothing is lost if this fails: the next start empties the logs
/// before it serves.
async fn close(store: &dyn crate::store::PlanStore) {
    let closing = std::time::Instant::now();
    match store.close().await {
        Ok(()) => tracing::info!(close_ms = closing.elapsed().as_millis(), "database closed"),
        Err(error) => tracing::warn!(%error, "the database's logs were not emptied on stopping"),
    }
}

/// Loads the demo plans (idempotently) and returns example requests with `{base}` for the URL.
async fn load_demo(service: &PlanService) -> Result<String, String> {
    let mut ids = Vec::new();
    let summary = ndjson::import(service, DEMO_PLANS.as_bytes(), false, |_, _, result| {
        if let Some(
            LineResult::Created(id) | LineResult::Unchanged(id) | LineResult::VersionAdded(id),
        ) = result
        {
            ids.push(*id);
        }
    })
    .await
    .map_err(|e| format!("loading the demo plans failed: {e:?}"))?;
    let first = DEMO_PLANS
        .lines()
        .next()
        .and_then(|line| serde_json::from_str::<ImportRecord>(line).ok());
    let (nhs_number, id) = match (first, ids.first()) {
        (Some(record), Some(id)) => (record.plan.person.nhs_number.to_string(), id.to_string()),
        _ => return Err("the demo plans are missing from this build".into()),
    };
    Ok(format!(
        "Demo data: {} plans ({} new, {} already there, {} refused).\n\
         Try:\n  \
         curl -s -H \"Authorization: Bearer $TOKEN\" '{{base}}/api/v1/plans?nhs_number={nhs_number}'\n  \
         curl -s -H \"Authorization: Bearer $TOKEN\" {{base}}/api/v1/plans/{id}\n  \
         curl -s -H \"Authorization: Bearer $TOKEN\" {{base}}/api/v1/plans/{id}/history\n  \
         curl -s -H \"Authorization: Bearer $TOKEN\" {{base}}/api/v1/schema\n  \
         curl -s -H \"Authorization: Bearer $TOKEN\" '{{base}}/fhir/Patient/$summary?identifier=https://fhir.nhs.uk/Id/nhs-number|{nhs_number}'\n  \
         curl -s -H \"Authorization: Bearer $TOKEN\" {{base}}/fhir/CarePlan/{id}\n  \
         curl -s {{base}}/fhir/metadata\n  \
         curl -s {{base}}/health/ready",
        summary.created + summary.unchanged,
        summary.created,
        summary.unchanged,
        summary.rejected,
    ))
}

fn generate(args: &GenerateArgs) -> Result<ExitCode, String> {
    use std::io::Write as _;
    let today = SystemClock.now().date_naive();
    let mut out: Box<dyn std::io::Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let summary = crate::generate::generate(args.count, args.seed, today, &mut out)?;
    out.flush().map_err(|e| format!("writing failed: {e}"))?;
    eprintln!(
        "generated {} plans in {} lines (seed {}): {} with a CPR decision, {} with ReSPECT, {} \
         with an ADRT, {} with several versions",
        summary.plans,
        summary.lines,
        args.seed,
        summary.with_cpr_decision,
        summary.with_respect,
        summary.with_adrt,
        summary.with_several_versions
    );
    Ok(ExitCode::SUCCESS)
}

async fn import(service: PlanService, args: ImportArgs) -> Result<ExitCode, String> {
    let file = tokio::fs::File::open(&args.file)
        .await
        .map_err(|e| format!("cannot open {}: {e}", args.file.display()))?;
    let length = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    let progress = if std::io::stderr().is_terminal() && !args.verbose {
        let bar = ProgressBar::new(length);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg} ({eta} left)")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let verbose = args.verbose;
    let outcome = ndjson::import(
        &service,
        BufReader::new(file),
        args.strict,
        |line, bytes, result| {
            progress.inc(bytes as u64);
            match result {
                Some(LineResult::Rejected(message)) => {
                    progress.suspend(|| eprintln!("line {line}: {message}"));
                }
                Some(LineResult::Created(id)) if verbose => println!("line {line}: created {id}"),
                Some(LineResult::Unchanged(id)) if verbose => {
                    println!("line {line}: unchanged {id}");
                }
                Some(LineResult::VersionAdded(id)) if verbose => {
                    println!("line {line}: version added {id}");
                }
                _ => {}
            }
        },
    )
    .await;
    progress.finish_and_clear();
    match outcome {
        Ok(summary) => {
            eprintln!(
                "imported {}: {} created, {} unchanged, {} rejected, {} versions added",
                args.file.display(),
                summary.created,
                summary.unchanged,
                summary.rejected,
                summary.versions_added
            );
            Ok(if summary.rejected > 0 {
                ExitCode::from(EXIT_LINES_REJECTED)
            } else {
                ExitCode::SUCCESS
            })
        }
        Err(ImportStopped::BadLine {
            line,
            message,
            summary,
        }) => Err(format!(
            "stopped at line {line} (--strict): {message}; before it: {} created, {} unchanged",
            summary.created, summary.unchanged
        )),
        Err(ImportStopped::Failed(message)) => Err(message),
    }
}

async fn export(service: PlanService, args: ExportArgs) -> Result<ExitCode, String> {
    let written = match &args.output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            let mut out = std::io::BufWriter::new(file);
            ndjson::export(&service, args.all, args.history, &mut out).await
        }
        None => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            ndjson::export(&service, args.all, args.history, &mut out).await
        }
    }
    .map_err(|e| format!("export failed: {e}"))?;
    let unit = if args.history { "versions" } else { "plans" };
    eprintln!("exported {written} {unit}");
    Ok(ExitCode::SUCCESS)
}
