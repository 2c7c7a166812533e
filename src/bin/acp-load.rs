//! `acp-load`: the load harness. Seeds N synthetic plans (`generate`, then the service's own
//! `import`), starts `acp-fhir serve` on them with authentication on (a registered client, one
//! token from the SMART flow), warms up, then drives each scenario at a fixed concurrency and
//! prints throughput, p50/p95/p99/max latency and the server's peak RSS.
//!
//! ```sh
//! cargo build --release && target/release/acp-load --plans 100000 --concurrency 32 --requests 50000
//! ```

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use acp_fhir::auth::registry::write_file;
use acp_fhir::auth::{ClientRegistration, PrivateKey, RegistryFile};
use acp_fhir::commands::auth::client_assertion;
use acp_fhir::generate::{generate, NhsNumbers};
use clap::Parser;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, ETAG, HOST, IF_MATCH};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use jsonwebtoken::jwk::JwkSet;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

/// The load harness.
#[derive(Debug, Parser)]
#[command(name = "acp-load", about)]
struct Args {
    /// The service binary (default: `acp-fhir` beside this one).
    #[arg(long)]
    server: Option<PathBuf>,
    /// Plans to seed.
    #[arg(long, default_value_t = 10_000)]
    plans: usize,
    /// Seed of the generated plans and of the request mix.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Database URL (default: a new SQLite file in a temporary directory). A PostgreSQL
    /// database should be empty.
    #[arg(long)]
    database_url: Option<String>,
    /// Concurrent clients.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Requests a second in all, sent on a fixed schedule across the clients whatever the
    /// answers' speed (an open workload, as `wrk2 -R`); latency is then counted from when each
    /// request was due, so a slow answer that delays the next request is not hidden. Without
    /// it each client sends its next request as soon as the last is answered (a closed loop:
    /// the service's capacity, with latency at saturation).
    #[arg(long, value_parser = positive_rate)]
    rate: Option<f64>,
    /// Requests per scenario (after the warm-up).
    #[arg(long, default_value_t = 20_000)]
    requests: usize,
    /// Warm-up requests per scenario (not measured).
    #[arg(long, default_value_t = 2_000)]
    warmup: usize,
    /// Scenarios to run, comma-separated: `summary`, `search`, `read`, `update`, `mixed`, and
    /// `summary-v1` / `summary-deep` (the summary of one plan with a single version, and of one
    /// plan revised to `--deep-versions` versions before the scenarios start).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "summary,search,read,update,mixed,summary-v1,summary-deep"
    )]
    scenarios: Vec<String>,
    /// How many versions the plan of `summary-deep` has.
    #[arg(long, default_value_t = 500)]
    deep_versions: u32,
    /// Serve the database of `--database-url` as it is, without seeding: it must already hold
    /// the plans of `--plans` and `--seed` (from `acp-fhir generate` and `import`, or an earlier
    /// run). For measuring a large database (1,000,000 plans) more than once.
    #[arg(long, requires = "database_url")]
    no_seed: bool,
}

struct Target {
    /// Where the service listens.
    address: SocketAddr,
    /// `Host` and `Authorization` of every request: the client's current token, renewed before
    /// it expires (see [`renew_tokens`]).
    host: HeaderValue,
    authorization: RwLock<HeaderValue>,
    /// (NHS number, plan id) of every seeded person.
    people: Vec<(String, String)>,
    /// A person whose plan has one version (`summary-v1`).
    single: Option<(String, String)>,
    /// A person whose plan has `--deep-versions` versions (`summary-deep`).
    deep: Option<(String, String)>,
}

impl Target {
    /// A request to `path` (path and query) with the token, and `body` as JSON if any.
    fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Request<Full<Bytes>>, String> {
        let builder = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.host.clone())
            .header(AUTHORIZATION, self.bearer()?);
        match body {
            Some(json) => builder
                .header(CONTENT_TYPE, "application/json")
                .body(Full::new(Bytes::from(json))),
            None => builder.body(Full::new(Bytes::new())),
        }
        .map_err(fail)
    }

    fn bearer(&self) -> Result<HeaderValue, String> {
        self.authorization
            .read()
            .map(|value| value.clone())
            .map_err(|_| "the token lock was poisoned".to_owned())
    }

    fn get(&self, path: &str) -> Result<Request<Full<Bytes>>, String> {
        self.request(Method::GET, path, None)
    }
}

/// One client's own HTTP/1.1 connection, kept alive: each client sends its requests one after
/// another on it, as a browser or an ambulance system's integration would. Spoken by hyper's
/// connection API directly (no pool, no redirects, no URL parsing per request), so the harness,
/// which shares the machine with the service, takes as little of it as it can.
struct Connection {
    sender: SendRequest<Full<Bytes>>,
}

/// A response read to its end.
struct Answer {
    status: u16,
    etag: Option<HeaderValue>,
    body: Bytes,
}

impl Connection {
    async fn open(address: SocketAddr) -> Result<Self, String> {
        let stream = tokio::net::TcpStream::connect(address)
            .await
            .map_err(fail)?;
        stream.set_nodelay(true).map_err(fail)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(fail)?;
        // Runs until the connection closes; a failure shows in the next request sent on it.
        tokio::spawn(connection);
        Ok(Self { sender })
    }

    async fn send(&mut self, request: Request<Full<Bytes>>) -> Result<Answer, String> {
        self.sender.ready().await.map_err(fail)?;
        let response = self.sender.send_request(request).await.map_err(fail)?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(fail)?.to_bytes();
        Ok(Answer {
            status: parts.status.as_u16(),
            etag: parts.headers.get(ETAG).cloned(),
            body,
        })
    }
}

#[derive(Default)]
struct Outcome {
    histogram: Option<Histogram<u64>>,
    errors: usize,
}

fn positive_rate(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(format!(
            "`{value}` is not a rate above 0 (requests a second)"
        )),
    }
}

/// How long after the start request `index` (counted over all clients) of a paced run is due:
/// requests leave at a steady `rate` a second.
fn due(index: usize, rate: f64) -> Duration {
    Duration::from_secs_f64(index as f64 / rate)
}

/// Tokio's timer fires on whole-millisecond ticks, at the first tick at or after the deadline:
/// a client asleep until a request's due time woke up to a millisecond after it, and that
/// delay, the harness's own, was counted into the latency of every paced request (half a
/// millisecond on average). Waking one tick early sends a request at most a millisecond before
/// it is due (the rate is unchanged) and its latency is then counted from when it was sent;
/// a request sent after its due time (the last answer was slow, or the timer later than a
/// tick) still counts from its due time.
const TIMER_TICK: Duration = Duration::from_millis(1);

/// When a paced client wakes to send the request due at `due`.
fn wake_for(due: Instant) -> Instant {
    due.checked_sub(TIMER_TICK).unwrap_or(due)
}

/// The requests client `client` of `clients` sends in a paced run of `count`: every
/// `clients`-th, from its own number on, so the schedule is shared out evenly.
fn share(client: usize, clients: usize, count: usize) -> impl Iterator<Item = usize> {
    (client..count).step_by(clients.max(1))
}

fn fail(message: impl std::fmt::Display) -> String {
    message.to_string()
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(fail)?;
    Ok(listener.local_addr().map_err(fail)?.port())
}

/// Peak resident set size of a process, in MiB (Linux `VmHWM`).
fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn seed(args: &Args, server: &Path, database_url: &str, dir: &Path) -> Result<(), String> {
    let file = dir.join("plans.ndjson");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&file).map_err(fail)?);
    let today = chrono::Utc::now().date_naive();
    let summary = generate(args.plans, args.seed, today, &mut out)?;
    drop(out);
    let started = Instant::now();
    let status = Command::new(server)
        .args(["--database-url", database_url, "--log", "warn", "import"])
        .arg(&file)
        .stdout(Stdio::null())
        .status()
        .map_err(fail)?;
    if !status.success() {
        return Err(format!("import failed: {status}"));
    }
    println!(
        "seeded {} plans ({} versions) in {:.1} s",
        summary.plans,
        summary.lines,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn auth_files(dir: &Path) -> Result<(PathBuf, PathBuf, PrivateKey), String> {
    let service = PrivateKey::generate_es384().map_err(fail)?;
    let client = PrivateKey::generate_es384().map_err(fail)?;
    let key_path = dir.join("service.key.pem");
    std::fs::write(&key_path, service.to_pem()).map_err(fail)?;
    let registry = dir.join("clients.toml");
    let registration = ClientRegistration {
        id: "load".into(),
        name: "Load harness".into(),
        organisation: "Y09870".into(),
        scopes: vec!["system/*.cruds".into()],
        jwks: Some(JwkSet {
            keys: vec![client.public_jwk().clone()],
        }),
        jwks_uri: None,
        emergency_override: false,
        trusted_user_headers: false,
        rate_limit_per_second: Some(1_000_000),
    };
    write_file(
        &registry,
        &RegistryFile {
            clients: vec![registration],
        },
    )
    .map_err(fail)?;
    Ok((registry, key_path, client))
}

async fn wait_ready(base: &str, child: &mut Child) -> Result<Duration, String> {
    let started = Instant::now();
    let client = reqwest::Client::new();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("the server exited: {status}"));
        }
        if let Ok(response) = client.get(format!("{base}/health/ready")).send().await {
            if response.status().is_success() {
                return Ok(started.elapsed());
            }
        }
        if started.elapsed() > Duration::from_secs(120) {
            return Err("the server was not ready within 120 s".into());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// An access token from the SMART flow, as an `Authorization` value, and its lifetime.
async fn token(base: &str, key: &PrivateKey) -> Result<(HeaderValue, Duration), String> {
    let url = format!("{base}/auth/token");
    let assertion = client_assertion(key, "load", &url, chrono::Utc::now().timestamp())?;
    let body: Value = reqwest::Client::new()
        .post(&url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "system/*.cruds"),
            (
                "client_assertion_type",
                acp_fhir::auth::authority::ASSERTION_TYPE,
            ),
            ("client_assertion", assertion.as_str()),
        ])
        .send()
        .await
        .map_err(fail)?
        .json()
        .await
        .map_err(fail)?;
    let token = body["access_token"]
        .as_str()
        .ok_or_else(|| format!("no token: {body}"))?;
    let lifetime = body["expires_in"]
        .as_u64()
        .ok_or_else(|| format!("no expires_in: {body}"))?;
    Ok((
        HeaderValue::from_str(&format!("Bearer {token}")).map_err(fail)?,
        Duration::from_secs(lifetime),
    ))
}

/// When a token that lives `lifetime` is renewed: with a quarter of its life left (at least
/// 5 s before it expires), as a SMART client does, so no request carries an expired one.
fn renew_after(lifetime: Duration) -> Duration {
    let margin = (lifetime / 4).max(Duration::from_secs(5));
    lifetime.saturating_sub(margin).max(Duration::from_secs(1))
}

/// Renews the clients' token for as long as the run lasts. Until round 13 of issue 7 one token
/// served the whole run, and a run longer than its lifetime (300 s by default) was answered
/// 401 from then on. A renewal that fails is tried again a second later; the requests go on
/// with the token they have.
async fn renew_tokens(target: Arc<Target>, base: String, key: PrivateKey, lifetime: Duration) {
    let mut wait = renew_after(lifetime);
    loop {
        tokio::time::sleep(wait).await;
        match token(&base, &key).await {
            Ok((value, lifetime)) => {
                if let Ok(mut current) = target.authorization.write() {
                    *current = value;
                }
                wait = renew_after(lifetime);
            }
            Err(message) => {
                eprintln!("acp-load: renewing the token: {message}");
                wait = Duration::from_secs(1);
            }
        }
    }
}

/// The `PUT` that revises plan `id` (its special note), made after reading its current version
/// (not timed); `Err(status)` if the read failed.
async fn revision(
    target: &Target,
    connection: &mut Connection,
    id: &str,
    mark: u32,
) -> Result<Result<Request<Full<Bytes>>, u16>, String> {
    let path = format!("/api/v1/plans/{id}");
    let current = connection.send(target.get(&path)?).await?;
    if !(200..300).contains(&current.status) {
        return Ok(Err(current.status));
    }
    let mut body: Value = serde_json::from_slice(&current.body).map_err(fail)?;
    let mut plan = body["plan"].take();
    plan["special_note"] = Value::String(format!("load {mark}"));
    let mut request = target.request(
        Method::PUT,
        &path,
        Some(serde_json::to_vec(&plan).map_err(fail)?),
    )?;
    if let Some(tag) = current.etag {
        request.headers_mut().insert(IF_MATCH, tag);
    }
    Ok(Ok(request))
}

/// The current version of plan `id`.
async fn version_of(
    target: &Target,
    connection: &mut Connection,
    id: &str,
) -> Result<Option<u32>, String> {
    let response = connection
        .send(target.get(&format!("/api/v1/plans/{id}"))?)
        .await?;
    if !(200..300).contains(&response.status) {
        return Ok(None);
    }
    let body: Value = serde_json::from_slice(&response.body).map_err(fail)?;
    Ok(body["version"].as_u64().and_then(|v| u32::try_from(v).ok()))
}

/// Picks a person whose plan has one version (`summary-v1`) and another whose plan it revises
/// until it has `versions` versions (`summary-deep`); both plans are of record with consent to
/// share given, so their summaries are served.
async fn prepare_single_and_deep(target: &mut Target, versions: u32) -> Result<(), String> {
    let started = Instant::now();
    let mut connection = Connection::open(target.address).await?;
    let mut found = Vec::new();
    for person in &target.people {
        if found.len() == 2 {
            break;
        }
        let path = format!(
            "/fhir/Patient/$summary?identifier=https://fhir.nhs.uk/Id/nhs-number%7C{}",
            person.0
        );
        let served = (200..300).contains(&connection.send(target.get(&path)?).await?.status);
        if served && version_of(target, &mut connection, &person.1).await? == Some(1) {
            found.push(person.clone());
        }
    }
    let [single, deep] = <[(String, String); 2]>::try_from(found)
        .map_err(|_| "no two single-version plans with a served summary".to_owned())?;
    let mut version = 1;
    while version < versions {
        let request = match revision(target, &mut connection, &deep.1, version).await? {
            Ok(request) => request,
            Err(status) => return Err(format!("reading the deep plan: {status}")),
        };
        let status = connection.send(request).await?.status;
        if !(200..300).contains(&status) {
            return Err(format!("revising the deep plan: {status}"));
        }
        version += 1;
    }
    println!(
        "summary-v1: plan {} (1 version); summary-deep: plan {} ({} versions), made in {:.1} s",
        single.1,
        deep.1,
        version,
        started.elapsed().as_secs_f64()
    );
    target.single = Some(single);
    target.deep = Some(deep);
    Ok(())
}

/// With `--no-seed`: people among the first and among the last seeded have plans in the
/// database, so it holds the plans the scenarios ask for (ten of each end are tried: a plan
/// whose consent to share is withdrawn is not served).
async fn holds_the_seeded_plans(target: &Target) -> Result<(), String> {
    let mut connection = Connection::open(target.address).await?;
    let ends = [
        target.people.iter().take(10).collect::<Vec<_>>(),
        target.people.iter().rev().take(10).collect(),
    ];
    for end in ends {
        let mut served = false;
        for (_, id) in &end {
            if version_of(target, &mut connection, id).await?.is_some() {
                served = true;
                break;
            }
        }
        if !served {
            let (nhs, id) = end
                .first()
                .copied()
                .ok_or("--no-seed: no plans to look for")?;
            return Err(format!(
                "--no-seed: the database does not hold the seeded plans (none near plan {id}, \
                 NHS number {nhs}); seed it with the same --plans and --seed first"
            ));
        }
    }
    Ok(())
}

/// One request of `scenario`; `Ok(true)` if it counts as answered (2xx, or the 404 of a plan
/// whose consent to share is withdrawn). Only the measured request is timed.
async fn one(
    target: &Target,
    connection: &mut Connection,
    scenario: &str,
    rng: &mut ChaCha8Rng,
) -> Result<(Duration, bool), String> {
    let (nhs, id) = match scenario {
        "summary-v1" => target.single.as_ref(),
        "summary-deep" => target.deep.as_ref(),
        _ => target.people.get(rng.random_range(0..target.people.len())),
    }
    .ok_or_else(|| format!("no plan for {scenario}"))?;
    let scenario = if scenario == "mixed" {
        match rng.random_range(0..10) {
            0 => "update",
            1..=3 => "summary",
            4..=6 => "search",
            _ => "read",
        }
    } else {
        scenario
    };
    let identifier = format!("https://fhir.nhs.uk/Id/nhs-number%7C{nhs}");
    let request = match scenario {
        "summary" | "summary-v1" | "summary-deep" => {
            target.get(&format!("/fhir/Patient/$summary?identifier={identifier}"))?
        }
        "search" => target.get(&format!(
            "/fhir/Consent?patient:identifier={identifier}&_include=Consent:patient"
        ))?,
        "read" => target.get(&format!("/fhir/CarePlan/{id}"))?,
        "update" => match revision(target, connection, id, rng.random::<u32>()).await? {
            Ok(request) => request,
            Err(status) => return Ok((Duration::ZERO, status == 404)),
        },
        other => return Err(format!("unknown scenario {other}")),
    };
    let started = Instant::now();
    let status = connection.send(request).await?.status;
    Ok((
        started.elapsed(),
        (200..300).contains(&status) || status == 404 || status == 412,
    ))
}

/// How a scenario's requests are sent.
#[derive(Debug, Clone, Copy)]
struct Load {
    count: usize,
    concurrency: usize,
    /// Requests a second in all (paced), or `None` for a closed loop.
    rate: Option<f64>,
    seed: u64,
}

async fn drive(
    target: Arc<Target>,
    scenario: &str,
    load: Load,
) -> Result<(Outcome, Duration), String> {
    let remaining = Arc::new(AtomicUsize::new(load.count));
    // Every client's connection is open before the clock starts.
    let mut connections = Vec::with_capacity(load.concurrency);
    for _ in 0..load.concurrency {
        connections.push(Connection::open(target.address).await?);
    }
    let started = Instant::now();
    let mut workers = Vec::new();
    for (worker, mut connection) in connections.into_iter().enumerate() {
        let target = target.clone();
        let remaining = remaining.clone();
        let scenario = scenario.to_owned();
        workers.push(tokio::spawn(async move {
            let mut rng = ChaCha8Rng::seed_from_u64(load.seed ^ (worker as u64) << 32);
            let mut outcome = Outcome {
                histogram: Histogram::new_with_bounds(1, 60_000_000, 3).ok(),
                errors: 0,
            };
            let mut schedule = share(worker, load.concurrency, load.count);
            loop {
                // Paced: wait until this client's next request is due, and count any time it
                // is late (the last answer was slow) into its latency.
                let late = match load.rate {
                    Some(rate) => {
                        let Some(index) = schedule.next() else { break };
                        let at = started + due(index, rate);
                        tokio::time::sleep_until(wake_for(at).into()).await;
                        Instant::now().saturating_duration_since(at)
                    }
                    None => {
                        if remaining
                            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                                n.checked_sub(1)
                            })
                            .is_err()
                        {
                            break;
                        }
                        Duration::ZERO
                    }
                };
                let (elapsed, ok) = one(&target, &mut connection, &scenario, &mut rng).await?;
                if !ok {
                    outcome.errors += 1;
                }
                if let Some(histogram) = &mut outcome.histogram {
                    let micros = u64::try_from((late + elapsed).as_micros()).unwrap_or(u64::MAX);
                    let _ = histogram.record(micros.max(1));
                }
            }
            Ok::<Outcome, String>(outcome)
        }));
    }
    let mut total = Outcome {
        histogram: Histogram::new_with_bounds(1, 60_000_000, 3).ok(),
        errors: 0,
    };
    for worker in workers {
        let outcome = worker.await.map_err(fail)??;
        total.errors += outcome.errors;
        if let (Some(sum), Some(part)) = (&mut total.histogram, &outcome.histogram) {
            sum.add(part).map_err(fail)?;
        }
    }
    Ok((total, started.elapsed()))
}

async fn run(args: Args) -> Result<(), String> {
    let server = match &args.server {
        Some(path) => path.clone(),
        None => std::env::current_exe()
            .map_err(fail)?
            .with_file_name("acp-fhir"),
    };
    let dir = std::env::temp_dir().join(format!("acp-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(fail)?;
    let result = run_in(&args, &server, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run_in(args: &Args, server: &Path, dir: &Path) -> Result<(), String> {
    let database_url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite:{}", dir.join("load.db").display()));
    if args.no_seed {
        println!("not seeded: serving {database_url} as it is");
    } else {
        seed(args, server, &database_url, dir)?;
    }
    let (registry, signing_key, client_key) = auth_files(dir)?;
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(server)
        .args(["--database-url", &database_url, "--log", "warn", "serve"])
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--public-url",
            &base,
        ])
        .arg("--clients")
        .arg(&registry)
        .arg("--signing-keys")
        .arg(&signing_key)
        .stdout(Stdio::null())
        .spawn()
        .map_err(fail)?;
    let outcome = async {
        let ready = wait_ready(&base, &mut child).await?;
        println!("start-up to ready: {:.0} ms", ready.as_secs_f64() * 1000.0);
        let (authorization, lifetime) = token(&base, &client_key).await?;
        let people = NhsNumbers::default()
            .take(args.plans)
            .enumerate()
            .map(|(i, nhs)| (nhs, uuid::Uuid::from_u64_pair(args.seed, i as u64).to_string()))
            .collect();
        let mut target = Target {
            address: SocketAddr::from(([127, 0, 0, 1], port)),
            host: HeaderValue::from_str(&format!("127.0.0.1:{port}")).map_err(fail)?,
            authorization: RwLock::new(authorization),
            people,
            single: None,
            deep: None,
        };
        if args.no_seed {
            holds_the_seeded_plans(&target).await?;
        }
        if args.scenarios.iter().any(|s| s.starts_with("summary-")) {
            prepare_single_and_deep(&mut target, args.deep_versions).await?;
        }
        let target = Arc::new(target);
        // Held to the end of the run: dropping the set stops the renewals.
        let mut renewing = tokio::task::JoinSet::new();
        renewing.spawn(renew_tokens(
            target.clone(),
            base.clone(),
            client_key.clone(),
            lifetime,
        ));
        let pacing = args.rate.map_or_else(
            || " (closed loop: each client sends again when answered)".to_owned(),
            |rate| format!(", paced at {rate:.0} requests/s (latency from when each was due)"),
        );
        println!(
            "\n{} plans, {} concurrent clients, {} requests per scenario{pacing}\n",
            args.plans, args.concurrency, args.requests
        );
        println!("| scenario | requests/s | p50 ms | p95 ms | p99 ms | max ms | errors | server peak RSS MiB |");
        println!("|---|---|---|---|---|---|---|---|");
        for scenario in &args.scenarios {
            let load = Load {
                count: args.warmup,
                concurrency: args.concurrency,
                rate: args.rate,
                seed: args.seed,
            };
            drive(target.clone(), scenario, load).await?;
            let load = Load {
                count: args.requests,
                seed: args.seed + 1,
                ..load
            };
            let (outcome, wall) = drive(target.clone(), scenario, load).await?;
            let ms = |q: f64| {
                outcome
                    .histogram
                    .as_ref()
                    .map_or(0.0, |h| h.value_at_quantile(q) as f64 / 1000.0)
            };
            let max = outcome
                .histogram
                .as_ref()
                .map_or(0.0, |h| h.max() as f64 / 1000.0);
            println!(
                "| {scenario} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {:.0} |",
                args.requests as f64 / wall.as_secs_f64(),
                ms(0.5),
                ms(0.95),
                ms(0.99),
                max,
                outcome.errors,
                peak_rss_mib(child.id()).unwrap_or(f64::NAN),
            );
        }
        Ok::<(), String>(())
    }
    .await;
    match stop(&mut child).await {
        Ok(stopped) => println!("stopped in {:.0} ms", stopped.as_secs_f64() * 1000.0),
        Err(message) => eprintln!("acp-load: {message}"),
    }
    outcome
}

/// How long the server has to stop before it is killed.
const STOP_WAIT: Duration = Duration::from_secs(60);

/// Stops the server as a deployment does: SIGTERM, so that it finishes what it is doing and
/// empties its database's logs (`PlanStore::close`). Killed instead (as the harness did
/// until round 11), the server left the audit file's log (about 300 MB after a run) for the next
/// process to empty. Killed anyway if it has not stopped within [`STOP_WAIT`]; the time it took
/// is returned.
async fn stop(child: &mut Child) -> Result<Duration, String> {
    let started = Instant::now();
    let signalled = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .is_ok_and(|status| status.success());
    while signalled && started.elapsed() < STOP_WAIT {
        if let Ok(Some(status)) = child.try_wait() {
            return if status.success() {
                Ok(started.elapsed())
            } else {
                Err(format!("the server stopped with {status}"))
            };
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    Err(if signalled {
        format!(
            "the server did not stop within {} s; killed",
            STOP_WAIT.as_secs()
        )
    } else {
        "the server could not be sent SIGTERM; killed".into()
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    // One thread: every client's connection and its hyper task share it, so a request's
    // wake-ups never cross threads. The harness shares the machine's two cores with the
    // service it measures; what it spends is taken from the service (BENCHMARKS.md, fifteenth
    // round).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("acp-load: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("acp-load: {message}");
            ExitCode::FAILURE
        }
    }
}
