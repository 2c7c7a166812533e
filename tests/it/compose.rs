//! The container deployment's files, checked without docker or a network: `docker-compose.yml`,
//! `deploy/nginx.conf` and `.env.example` agree with each other and with the service's own
//! configuration (`KNOWN_ENVIRONMENT`: an unknown `ACP_*` variable stops start-up), and nothing
//! clinical can reach nginx's access log.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use acp_fhir::config::KNOWN_ENVIRONMENT;
use yaml_rust2::yaml::Hash;
use yaml_rust2::{Yaml, YamlLoader};

/// The replicas the compose file and the nginx upstream must both name.
const REPLICAS: &[&str] = &["acp-fhir-1", "acp-fhir-2"];

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// ---------------------------------------------------------------------------------------------
// docker-compose.yml
// ---------------------------------------------------------------------------------------------

/// The compose file, parsed, with YAML merge keys (`<<: *acp-fhir`) resolved as docker compose
/// resolves them (yaml-rust2 resolves aliases but not merges): keys written beside `<<` win, and
/// the merge is shallow (a service's own `environment` would replace the anchor's whole map).
fn compose() -> Yaml {
    let mut documents = YamlLoader::load_from_str(&read("docker-compose.yml")).unwrap();
    assert_eq!(
        documents.len(),
        1,
        "docker-compose.yml holds one YAML document"
    );
    let document = resolve_merges(documents.remove(0));
    assert_no_bad_values(&document, "docker-compose.yml");
    document
}

fn resolve_merges(node: Yaml) -> Yaml {
    match node {
        Yaml::Hash(hash) => {
            let merge_key = Yaml::String("<<".to_owned());
            let mut out = Hash::new();
            let mut merged = Vec::new();
            for (key, value) in hash {
                if key == merge_key {
                    match value {
                        Yaml::Hash(h) => merged.push(h),
                        Yaml::Array(list) => {
                            merged.extend(list.into_iter().map(|item| match item {
                                Yaml::Hash(h) => h,
                                other => panic!("`<<` merges mappings, not {other:?}"),
                            }))
                        }
                        other => panic!("`<<` merges mappings, not {other:?}"),
                    }
                } else {
                    out.insert(key, resolve_merges(value));
                }
            }
            // Explicit keys win, then earlier merged mappings over later ones.
            for source in merged {
                if let Yaml::Hash(source) = resolve_merges(Yaml::Hash(source)) {
                    for (key, value) in source {
                        out.entry(key).or_insert(value);
                    }
                }
            }
            Yaml::Hash(out)
        }
        Yaml::Array(list) => Yaml::Array(list.into_iter().map(resolve_merges).collect()),
        other => other,
    }
}

fn assert_no_bad_values(node: &Yaml, at: &str) {
    match node {
        Yaml::BadValue | Yaml::Alias(_) => panic!("{at}: an unresolved alias"),
        Yaml::Hash(hash) => {
            for (key, value) in hash {
                let key = scalar(key).unwrap_or_default();
                assert_no_bad_values(value, &format!("{at}.{key}"));
            }
        }
        Yaml::Array(list) => {
            for (i, item) in list.iter().enumerate() {
                assert_no_bad_values(item, &format!("{at}[{i}]"));
            }
        }
        _ => {}
    }
}

/// A scalar as compose sees it (`8080`, `true` and `"8080"` are all text to it).
fn scalar(node: &Yaml) -> Option<String> {
    match node {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn text(node: &Yaml, what: &str) -> String {
    scalar(node).unwrap_or_else(|| panic!("{what}: expected a scalar, found {node:?}"))
}

fn services(compose: &Yaml) -> &Hash {
    compose["services"]
        .as_hash()
        .unwrap_or_else(|| panic!("docker-compose.yml has no `services` mapping"))
}

fn service<'a>(compose: &'a Yaml, name: &str) -> &'a Yaml {
    let found = &compose["services"][name];
    assert!(
        found.as_hash().is_some(),
        "no service `{name}` in docker-compose.yml"
    );
    found
}

fn service_names(compose: &Yaml) -> BTreeSet<String> {
    services(compose)
        .keys()
        .map(|k| text(k, "a service name"))
        .collect()
}

/// The replicas of the service, as the compose file names them.
fn replica_names(compose: &Yaml) -> BTreeSet<String> {
    service_names(compose)
        .into_iter()
        .filter(|name| name.starts_with("acp-fhir"))
        .collect()
}

/// A service's `environment`, in either of compose's forms (`NAME: value` or `- NAME=value`).
/// `None` is a variable passed through from compose's own environment without a value.
fn environment(service: &Yaml, name: &str) -> BTreeMap<String, Option<String>> {
    match &service["environment"] {
        Yaml::BadValue | Yaml::Null => BTreeMap::new(),
        Yaml::Hash(hash) => hash
            .iter()
            .map(|(k, v)| (text(k, name), scalar(v)))
            .collect(),
        Yaml::Array(list) => list
            .iter()
            .map(|item| {
                let item = text(item, name);
                match item.split_once('=') {
                    Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
                    None => (item, None),
                }
            })
            .collect(),
        other => panic!("{name}: `environment` is neither a mapping nor a list: {other:?}"),
    }
}

/// A service's `depends_on`, name → condition (`service_started` for the list form).
fn depends_on(service: &Yaml, name: &str) -> BTreeMap<String, String> {
    match &service["depends_on"] {
        Yaml::BadValue => BTreeMap::new(),
        Yaml::Array(list) => list
            .iter()
            .map(|item| (text(item, name), "service_started".to_owned()))
            .collect(),
        Yaml::Hash(hash) => hash
            .iter()
            .map(|(k, v)| {
                let condition = scalar(&v["condition"]).unwrap_or("service_started".to_owned());
                (text(k, name), condition)
            })
            .collect(),
        other => panic!("{name}: odd `depends_on`: {other:?}"),
    }
}

/// The healthcheck's command as one string (`test` is a list or a string).
fn healthcheck_test(service: &Yaml) -> Option<String> {
    let test = &service["healthcheck"]["test"];
    match test {
        Yaml::Array(list) => Some(list.iter().filter_map(scalar).collect::<Vec<_>>().join(" ")),
        _ => scalar(test),
    }
}

/// Every string in the document, keys included (compose interpolates both).
fn strings(node: &Yaml, out: &mut Vec<String>) {
    match node {
        Yaml::Hash(hash) => {
            for (key, value) in hash {
                strings(key, out);
                strings(value, out);
            }
        }
        Yaml::Array(list) => list.iter().for_each(|item| strings(item, out)),
        other => out.extend(scalar(other)),
    }
}

/// A `${NAME...}` or `$NAME` in a compose value: its name and, for `${NAME:-default}` and
/// `${NAME-default}`, the default. `$$` is a literal `$`, left to the container.
#[derive(Debug, PartialEq, Eq)]
struct Interpolation {
    name: String,
    default: Option<String>,
}

fn interpolations(value: &str) -> Vec<Interpolation> {
    let bytes = value.as_bytes();
    let is_name = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        match bytes.get(i + 1) {
            Some(b'$') => i += 2,
            Some(b'{') => {
                let start = i + 2;
                let mut depth = 1;
                let mut end = start;
                while depth > 0 {
                    match bytes.get(end) {
                        Some(b'{') => depth += 1,
                        Some(b'}') => depth -= 1,
                        Some(_) => {}
                        None => panic!("an unclosed `${{` in `{value}`"),
                    }
                    end += 1;
                }
                let inner = &value[start..end - 1];
                let name_len = inner.bytes().take_while(|b| is_name(*b)).count();
                let (name, rest) = inner.split_at(name_len);
                assert!(
                    !name.is_empty(),
                    "`${{{inner}}}` in `{value}` names no variable"
                );
                let default = if let Some(d) = rest.strip_prefix(":-") {
                    Some(d.to_owned())
                } else if let Some(d) = rest.strip_prefix('-') {
                    Some(d.to_owned())
                } else if rest.is_empty() || rest.starts_with(":?") || rest.starts_with('?') {
                    None
                } else if rest.starts_with(":+") || rest.starts_with('+') {
                    // Empty when unset: optional, with the empty string as its default.
                    Some(String::new())
                } else {
                    panic!("`${{{inner}}}` in `{value}`: unknown modifier `{rest}`")
                };
                found.push(Interpolation {
                    name: name.to_owned(),
                    default,
                });
                // `${A:-${B}}`: B is interpolated too.
                found.extend(interpolations(rest));
                i = end;
            }
            Some(b) if b.is_ascii_alphabetic() || *b == b'_' => {
                let len = bytes[i + 1..].iter().take_while(|b| is_name(**b)).count();
                found.push(Interpolation {
                    name: value[i + 1..i + 1 + len].to_owned(),
                    default: None,
                });
                i += 1 + len;
            }
            _ => i += 1,
        }
    }
    found
}

fn compose_interpolations(compose: &Yaml) -> Vec<Interpolation> {
    let mut all = Vec::new();
    strings(compose, &mut all);
    all.iter().flat_map(|s| interpolations(s)).collect()
}

/// `.env.example` as name → value, in order; a name set twice is an error.
fn env_example() -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    for (number, line) in read(".env.example").lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!(".env.example:{}: not NAME=value: {line}", number + 1));
        let previous = vars.insert(name.trim().to_owned(), value.trim().to_owned());
        assert!(previous.is_none(), ".env.example sets {name} twice");
    }
    vars
}

fn is_known(name: &str) -> bool {
    KNOWN_ENVIRONMENT.contains(&name)
}

#[test]
fn the_compose_file_parses_and_has_postgres_two_replicas_and_the_load_balancer() {
    let compose = compose();
    let names = service_names(&compose);
    for expected in ["postgres", "acp-fhir-1", "acp-fhir-2", "lb"] {
        assert!(
            names.contains(expected),
            "no service `{expected}`: {names:?}"
        );
    }
    let replicas = replica_names(&compose);
    let expected: BTreeSet<String> = REPLICAS.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(replicas, expected);

    let postgres = service(&compose, "postgres");
    assert_eq!(text(&postgres["image"], "postgres.image"), "postgres:16");
    let volumes: Vec<String> = postgres["volumes"]
        .as_vec()
        .unwrap_or_else(|| panic!("postgres has no volumes"))
        .iter()
        .map(|v| text(v, "postgres.volumes"))
        .collect();
    assert!(
        volumes.contains(&"pg-data:/var/lib/postgresql/data".to_owned()),
        "{volumes:?}"
    );
    assert!(
        compose["volumes"]
            .as_hash()
            .is_some_and(|v| v.contains_key(&Yaml::String("pg-data".to_owned()))),
        "the named volume pg-data is not declared"
    );
    // No secret committed: the password is interpolated, and required.
    let postgres_env = environment(postgres, "postgres");
    let password = postgres_env["POSTGRES_PASSWORD"]
        .clone()
        .unwrap_or_default();
    assert!(password.starts_with("${POSTGRES_PASSWORD:?"), "{password}");

    for name in REPLICAS {
        let replica = service(&compose, name);
        assert_eq!(text(&replica["build"], name), ".", "{name}: build");
        let command: Vec<String> = match &replica["command"] {
            Yaml::Array(list) => list.iter().map(|c| text(c, name)).collect(),
            other => text(other, name)
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
        };
        assert_eq!(command, ["serve"], "{name}: command");
        assert_eq!(
            text(&replica["restart"], name),
            "unless-stopped",
            "{name}: restart"
        );
        assert!(
            matches!(replica["ports"], Yaml::BadValue),
            "{name} must not publish ports"
        );

        let env = environment(replica, name);
        let get = |var: &str| env.get(var).cloned().flatten().unwrap_or_default();
        assert_eq!(get("ACP_LISTEN"), "0.0.0.0:8080", "{name}");
        assert_eq!(get("ACP_LOG_FORMAT"), "json", "{name}");
        assert!(
            env.contains_key("ACP_DB_POOL_SIZE"),
            "{name}: no ACP_DB_POOL_SIZE"
        );
        let url = get("ACP_DATABASE_URL");
        assert!(url.starts_with("postgres://"), "{name}: {url}");
        assert!(
            url.contains("${POSTGRES_PASSWORD:?"),
            "{name}: a password in the URL: {url}"
        );
        assert!(url.contains("@postgres:5432/"), "{name}: {url}");
        // One signing key, one registry, one public URL: tokens work on every replica.
        assert_eq!(
            get("ACP_AUTH_SIGNING_KEYS"),
            "/run/secrets/acp_signing_key",
            "{name}"
        );
        assert_eq!(
            get("ACP_AUTH_CLIENTS"),
            "/etc/acp-fhir/auth/clients.toml",
            "{name}"
        );
        assert!(get("ACP_PUBLIC_URL").contains("${ACP_PUBLIC_URL"), "{name}");

        let depends = depends_on(replica, name);
        assert_eq!(
            depends.get("postgres").map(String::as_str),
            Some("service_healthy"),
            "{name}: depends_on"
        );
    }
    // The replicas share one definition.
    assert_eq!(
        service(&compose, "acp-fhir-1"),
        service(&compose, "acp-fhir-2")
    );

    let lb = service(&compose, "lb");
    assert_eq!(text(&lb["image"], "lb.image"), "nginx:1.27-alpine");
    let ports: Vec<String> = lb["ports"]
        .as_vec()
        .unwrap_or_else(|| panic!("lb publishes no port"))
        .iter()
        .map(|p| text(p, "lb.ports"))
        .collect();
    assert!(
        ports.len() == 1 && ports[0].ends_with(":8080"),
        "lb ports {ports:?}"
    );
    let lb_volumes: Vec<String> = lb["volumes"]
        .as_vec()
        .unwrap_or_else(|| panic!("lb mounts nothing"))
        .iter()
        .map(|v| text(v, "lb.volumes"))
        .collect();
    assert!(
        lb_volumes.contains(&"./deploy/nginx.conf:/etc/nginx/nginx.conf:ro".to_owned()),
        "{lb_volumes:?}"
    );
    let depends = depends_on(lb, "lb");
    for name in &replicas {
        assert_eq!(
            depends.get(name).map(String::as_str),
            Some("service_healthy"),
            "lb must wait for {name}"
        );
    }
}

#[test]
fn every_acp_variable_in_the_compose_file_is_one_the_service_knows() {
    let compose = compose();
    let mut seen = BTreeSet::new();
    for name in service_names(&compose) {
        for var in environment(service(&compose, &name), &name).keys() {
            if var.starts_with("ACP_") {
                assert!(
                    is_known(var),
                    "service {name} sets {var}, which acp-fhir does not know: it would refuse \
                     to start (known: {KNOWN_ENVIRONMENT:?})"
                );
                seen.insert(var.clone());
            }
        }
    }
    // The check above saw the replicas' settings (the merge key was resolved).
    assert!(seen.contains("ACP_DATABASE_URL"), "{seen:?}");
    // Variables compose takes from `.env` or the shell, too.
    for interpolation in compose_interpolations(&compose) {
        if interpolation.name.starts_with("ACP_") {
            assert!(
                is_known(&interpolation.name),
                "docker-compose.yml interpolates {}, an ACP_* name acp-fhir does not know; \
                 exported from .env it would stop the service starting",
                interpolation.name
            );
        }
    }
}

#[test]
fn the_interpolation_reader_reads_compose_syntax() {
    let found = interpolations(
        "a $${LITERAL} ${REQ} ${OPT:-8080}${ERR:?say} $BARE ${DASH-x} ${N:-${INNER}}",
    );
    let pairs: Vec<(&str, Option<&str>)> = found
        .iter()
        .map(|i| (i.name.as_str(), i.default.as_deref()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("REQ", None),
            ("OPT", Some("8080")),
            ("ERR", None),
            ("BARE", None),
            ("DASH", Some("x")),
            ("N", Some("${INNER}")),
            ("INNER", None),
        ]
    );
}

#[test]
fn env_example_lists_every_interpolated_variable_and_nothing_else() {
    let compose = compose();
    let example = env_example();
    // Each variable's defaults, one per use (`None`: used without one, so required).
    let mut defaults: BTreeMap<String, BTreeSet<Option<String>>> = BTreeMap::new();
    for interpolation in compose_interpolations(&compose) {
        let name = interpolation.name;
        if interpolation.default.is_none() {
            assert!(
                example.contains_key(&name),
                "docker-compose.yml needs ${{{name}}} (no default) but .env.example does not set it"
            );
        }
        defaults
            .entry(name)
            .or_default()
            .insert(interpolation.default);
    }
    for (name, uses) in &defaults {
        let distinct: BTreeSet<&String> = uses.iter().flatten().collect();
        assert!(
            distinct.len() <= 1,
            "${{{name}}} has different defaults: {distinct:?}"
        );
    }
    assert!(defaults.contains_key("POSTGRES_PASSWORD"), "{defaults:?}");

    for (name, value) in &example {
        assert!(
            defaults.contains_key(name),
            ".env.example sets {name}, which docker-compose.yml never uses (compose passes \
             .env to no container by itself)"
        );
        if name.starts_with("ACP_") {
            assert!(
                is_known(name),
                ".env.example sets {name}, unknown to acp-fhir"
            );
        }
        let uses = &defaults[name];
        if let (1, Some(Some(default))) = (uses.len(), uses.first()) {
            assert_eq!(
                value, default,
                ".env.example: {name} is not the compose default"
            );
        }
    }
}

#[test]
fn every_replica_and_postgres_have_healthchecks() {
    let compose = compose();
    let postgres = healthcheck_test(service(&compose, "postgres")).unwrap_or_default();
    assert!(
        postgres.contains("pg_isready"),
        "postgres healthcheck: {postgres:?}"
    );
    for name in replica_names(&compose) {
        let test = healthcheck_test(service(&compose, &name)).unwrap_or_default();
        assert!(
            test.contains("curl") && test.contains("http://127.0.0.1:8080/health/ready"),
            "{name} healthcheck: {test:?}"
        );
    }
    let lb = healthcheck_test(service(&compose, "lb")).unwrap_or_default();
    assert!(
        lb.contains("http://127.0.0.1:8080/lb-health"),
        "lb healthcheck: {lb:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// deploy/nginx.conf
// ---------------------------------------------------------------------------------------------

/// One nginx directive: `name args...;` or `name args... { block }`.
#[derive(Debug)]
struct Directive {
    name: String,
    args: Vec<String>,
    block: Vec<Directive>,
}

#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    Open,
    Close,
    End,
}

fn tokenize(source: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '{' => tokens.push(Token::Open),
            '}' => tokens.push(Token::Close),
            ';' => tokens.push(Token::End),
            '"' | '\'' => {
                let mut word = String::new();
                loop {
                    match chars.next() {
                        Some('\\') => word.extend(chars.next()),
                        Some(q) if q == c => break,
                        Some(other) => word.push(other),
                        None => panic!("nginx.conf: an unclosed quote"),
                    }
                }
                tokens.push(Token::Word(word));
            }
            first => {
                let mut word = String::from(first);
                while let Some(&next) = chars.peek() {
                    if next.is_whitespace() || matches!(next, '{' | '}' | ';') {
                        break;
                    }
                    word.push(next);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    tokens
}

fn parse_block(tokens: &mut std::iter::Peekable<std::vec::IntoIter<Token>>) -> Vec<Directive> {
    let mut directives = Vec::new();
    while let Some(token) = tokens.next() {
        let name = match token {
            Token::Close => return directives,
            Token::Word(word) => word,
            other => panic!("nginx.conf: unexpected {other:?}"),
        };
        let mut args = Vec::new();
        let block = loop {
            match tokens.next() {
                Some(Token::Word(word)) => args.push(word),
                Some(Token::End) => break Vec::new(),
                Some(Token::Open) => break parse_block(tokens),
                other => panic!("nginx.conf: `{name}` ends with {other:?}"),
            }
        };
        directives.push(Directive { name, args, block });
    }
    directives
}

fn nginx_conf() -> Vec<Directive> {
    parse_block(&mut tokenize(&read("deploy/nginx.conf")).into_iter().peekable())
}

/// Every directive called `name`, at any depth.
fn find<'a>(directives: &'a [Directive], name: &str) -> Vec<&'a Directive> {
    let mut found = Vec::new();
    for directive in directives {
        if directive.name == name {
            found.push(directive);
        }
        found.extend(find(&directive.block, name));
    }
    found
}

/// The variables a string uses (`$uri`, `${uri}`).
fn nginx_variables(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        let after = rest[at + 1..].trim_start_matches('{');
        let len = after
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        if len > 0 {
            names.insert(after[..len].to_owned());
        }
        rest = &rest[at + 1..];
    }
    names
}

#[test]
fn nginx_balances_over_both_replicas_with_passive_health_checks() {
    let conf = nginx_conf();
    assert_eq!(find(&conf, "events").len(), 1, "no events block");
    assert_eq!(find(&conf, "http").len(), 1, "no http block");

    let upstreams = find(&conf, "upstream");
    assert_eq!(upstreams.len(), 1, "one upstream block");
    let upstream = upstreams[0];
    let upstream_name = upstream.args.first().cloned().unwrap_or_default();
    let servers: BTreeSet<String> = find(&upstream.block, "server")
        .iter()
        .map(|server| {
            let address = server.args.first().cloned().unwrap_or_default();
            for needed in ["max_fails=", "fail_timeout="] {
                assert!(
                    server.args.iter().any(|a| a.starts_with(needed)),
                    "upstream server {address} has no {needed}"
                );
            }
            address
        })
        .collect();
    let replicas: BTreeSet<String> = replica_names(&compose())
        .iter()
        .map(|name| format!("{name}:8080"))
        .collect();
    assert_eq!(
        servers, replicas,
        "the upstream and the compose replicas differ"
    );
    assert!(servers.contains("acp-fhir-1:8080") && servers.contains("acp-fhir-2:8080"));

    let proxied: Vec<&Directive> = find(&conf, "proxy_pass");
    assert!(
        !proxied.is_empty()
            && proxied
                .iter()
                .all(|p| p.args == [format!("http://{upstream_name}")]),
        "proxy_pass must go to the upstream `{upstream_name}`"
    );

    // Retries on the other replica, but never of a POST or PUT that reached one.
    let next = find(&conf, "proxy_next_upstream");
    assert_eq!(next.len(), 1);
    for needed in ["error", "timeout", "http_502", "http_503"] {
        assert!(
            next[0].args.iter().any(|a| a == needed),
            "proxy_next_upstream lacks {needed}"
        );
    }
    assert!(
        !next[0].args.iter().any(|a| a == "non_idempotent"),
        "non-idempotent requests must not be retried"
    );

    let headers: BTreeMap<String, String> = find(&conf, "proxy_set_header")
        .iter()
        .map(|h| {
            (
                h.args[0].to_ascii_lowercase(),
                h.args.get(1).cloned().unwrap_or_default(),
            )
        })
        .collect();
    for needed in ["x-request-id", "x-forwarded-for", "x-forwarded-proto"] {
        assert!(headers.contains_key(needed), "no proxy_set_header {needed}");
    }
    // The request id: the caller's, else nginx's own `$request_id`.
    let request_id_var = headers["x-request-id"].trim_start_matches('$').to_owned();
    let map = find(&conf, "map")
        .into_iter()
        .find(|m| {
            m.args
                .get(1)
                .is_some_and(|v| v.trim_start_matches('$') == request_id_var)
        })
        .unwrap_or_else(|| panic!("X-Request-ID is not set from a map"));
    assert_eq!(map.args[0], "$http_x_request_id");
    assert!(map
        .block
        .iter()
        .any(|d| d.name == "default" && d.args == ["$request_id"]));

    let body = find(&conf, "client_max_body_size");
    assert!(
        body.len() == 1 && body[0].args == ["2m"],
        "client_max_body_size 2m"
    );

    let health = find(&conf, "location")
        .into_iter()
        .find(|l| l.args == ["=", "/lb-health"])
        .unwrap_or_else(|| panic!("no `location = /lb-health`"));
    assert!(find(&health.block, "return")
        .iter()
        .any(|r| r.args.first().is_some_and(|c| c == "200")));
    assert!(
        find(&conf, "listen").iter().any(|l| l.args == ["8080"]),
        "nginx listens on 8080, where compose publishes it"
    );
}

#[test]
fn nginx_logs_no_query_string() {
    let conf = nginx_conf();
    let formats: BTreeMap<String, String> = find(&conf, "log_format")
        .iter()
        .map(|f| {
            let (name, parts) = f
                .args
                .split_first()
                .unwrap_or_else(|| panic!("empty log_format"));
            let parts: Vec<&String> = parts.iter().filter(|p| !p.starts_with("escape=")).collect();
            (
                name.clone(),
                parts.iter().map(|p| p.as_str()).collect::<String>(),
            )
        })
        .collect();
    assert!(!formats.is_empty(), "no log_format");
    let forbidden = [
        "request_uri",
        "request",
        "args",
        "query_string",
        "is_args",
        "http_referer",
    ];
    for (name, format) in &formats {
        let used = nginx_variables(format);
        for variable in &used {
            assert!(
                !forbidden.contains(&variable.as_str()) && !variable.starts_with("arg_"),
                "log_format {name} uses ${variable}, which carries the query string"
            );
        }
        assert!(used.contains("uri"), "log_format {name} has no $uri");
    }

    // Every access log uses one of those formats: without a format nginx uses `combined`,
    // which has `$request` (and so the query string); without any access_log, the same.
    let access_logs = find(&conf, "access_log");
    assert!(
        !access_logs.is_empty(),
        "no access_log: nginx would log in `combined`"
    );
    for log in access_logs {
        if log.args == ["off"] {
            continue;
        }
        let format = log.args.get(1).cloned().unwrap_or_default();
        assert!(
            formats.contains_key(&format),
            "access_log {:?} does not use a format defined here",
            log.args
        );
    }

    // nginx's error and warn messages quote the request line, query string included.
    let error_logs = find(&conf, "error_log");
    assert!(
        !error_logs.is_empty(),
        "no error_log: nginx would log at `error`"
    );
    for log in error_logs {
        let level = log.args.get(1).map(String::as_str).unwrap_or("error");
        assert!(
            matches!(level, "crit" | "alert" | "emerg"),
            "error_log at {level} would log query strings"
        );
    }
}

#[test]
fn the_nginx_reader_sees_what_nginx_sees() {
    let conf = parse_block(
        &mut tokenize(
            "# a comment { ;\nhttp { log_format x escape=json '$a' \"$request\" ; # $args\n \
             upstream u { server a:1 max_fails=1; } }",
        )
        .into_iter()
        .peekable(),
    );
    let format = find(&conf, "log_format");
    assert_eq!(format.len(), 1);
    assert_eq!(format[0].args, ["x", "escape=json", "$a", "$request"]);
    assert_eq!(find(&conf, "server")[0].args, ["a:1", "max_fails=1"]);
    assert_eq!(
        nginx_variables("$request_id ${uri}x $request"),
        ["request", "request_id", "uri"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    );
}
