//! The client registry: which backend systems may ask for tokens, with what keys and scopes.
//! A TOML file (or JSON, by extension) read at start and re-read when it changes on disk, so a
//! client can be added, or removed, without a restart. A file that does not parse, or breaks a
//! rule, is refused whole: at start the service does not start; on reload the previous registry
//! stays in force and the error is logged.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::Algorithm;
use serde::{Deserialize, Serialize};

use super::keys::key_fits;
use super::scopes::ScopeSet;
use crate::domain::OdsCode;

/// One registered client.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClientRegistration {
    /// The client id (`iss` and `sub` of its assertions).
    pub id: String,
    /// What the system is, for people reading the audit trail.
    pub name: String,
    /// The ODS code of the organisation that runs it.
    pub organisation: String,
    /// The scopes it may be granted.
    pub scopes: Vec<String>,
    /// Its public keys, inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<JwkSet>,
    /// Or where to fetch them (https, or http on loopback for testing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// Whether it may read a plan whose person withdrew consent to share, stating a reason in
    /// `X-Emergency-Override` (every such read is audited with the reason).
    #[serde(default)]
    pub emergency_override: bool,
    /// Whether it is trusted to name its end user in `X-Request-User` and
    /// `X-Request-User-Organisation` (recorded in the audit trail).
    #[serde(default)]
    pub trusted_user_headers: bool,
    /// Its own request rate limit (requests per second), instead of the service's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_per_second: Option<u32>,
}

/// The registry file's shape: `[[client]]` tables.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryFile {
    /// The clients.
    #[serde(default, rename = "client")]
    pub clients: Vec<ClientRegistration>,
}

/// A checked client.
#[derive(Debug, Clone)]
pub struct Client {
    /// As registered.
    pub registration: ClientRegistration,
    /// The scopes it may be granted, parsed.
    pub scopes: ScopeSet,
}

/// The registry in force.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    clients: HashMap<String, Arc<Client>>,
}

/// Why a registry was refused.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The file could not be read.
    #[error("client registry {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file does not parse.
    #[error("client registry {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// A client breaks a rule.
    #[error("client registry: client `{client}`: {message}")]
    Invalid {
        /// The client id.
        client: String,
        /// What is wrong.
        message: String,
    },
}

fn loopback_http(uri: &url::Url) -> bool {
    uri.scheme() == "http"
        && matches!(
            uri.host(),
            Some(url::Host::Ipv4(ip)) if ip.is_loopback()
        )
}

impl Registry {
    /// Checks every client: unique non-empty ids, a valid ODS code, scopes that parse, keys
    /// inline or by URI (not both), inline keys usable for RS384 or ES384, an https key URI.
    pub fn from_file(file: RegistryFile) -> Result<Self, RegistryError> {
        let mut clients = HashMap::new();
        for registration in file.clients {
            let invalid = |message: String| RegistryError::Invalid {
                client: registration.id.clone(),
                message,
            };
            if registration.id.trim().is_empty()
                || registration.id.len() > 128
                || registration.id.chars().any(char::is_whitespace)
            {
                return Err(invalid(
                    "the id must be 1 to 128 characters without spaces".into(),
                ));
            }
            if registration.name.trim().is_empty() {
                return Err(invalid("a name is required".into()));
            }
            registration
                .organisation
                .parse::<OdsCode>()
                .map_err(|e| invalid(format!("organisation: {e}")))?;
            let scopes =
                ScopeSet::parse_all(&registration.scopes).map_err(|e| invalid(e.to_string()))?;
            match (&registration.jwks, &registration.jwks_uri) {
                (Some(set), None) => {
                    if set.keys.is_empty() {
                        return Err(invalid("jwks holds no key".into()));
                    }
                    for key in &set.keys {
                        if !key_fits(key, Algorithm::RS384) && !key_fits(key, Algorithm::ES384) {
                            return Err(invalid(
                                "every key must be RSA (2048 bits or more, RS384) or EC P-384 \
                                 (ES384)"
                                    .into(),
                            ));
                        }
                    }
                }
                (None, Some(uri)) => {
                    let parsed =
                        url::Url::parse(uri).map_err(|e| invalid(format!("jwks_uri: {e}")))?;
                    if parsed.scheme() != "https" && !loopback_http(&parsed) {
                        return Err(invalid("jwks_uri must be https".into()));
                    }
                }
                _ => {
                    return Err(invalid(
                        "give exactly one of jwks (inline keys) or jwks_uri".into(),
                    ))
                }
            }
            if registration.rate_limit_per_second == Some(0) {
                return Err(invalid("rate_limit_per_second must be at least 1".into()));
            }
            let id = registration.id.clone();
            let client = Arc::new(Client {
                registration,
                scopes,
            });
            if clients.insert(id.clone(), client).is_some() {
                return Err(RegistryError::Invalid {
                    client: id,
                    message: "registered twice".into(),
                });
            }
        }
        Ok(Self { clients })
    }

    /// Reads and checks a registry file (`.json` as JSON, anything else as TOML).
    pub fn load(path: &Path) -> Result<Self, RegistryError> {
        Self::from_file(read_file(path)?)
    }

    /// A client by id.
    pub fn get(&self, id: &str) -> Option<Arc<Client>> {
        self.clients.get(id).cloned()
    }

    /// Adds or replaces a client (the demo registers one in memory).
    pub fn insert(&mut self, client: Client) {
        self.clients
            .insert(client.registration.id.clone(), Arc::new(client));
    }

    /// How many clients are registered.
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }
}

/// Reads a registry file without checking it.
pub fn read_file(path: &Path) -> Result<RegistryFile, RegistryError> {
    let text = std::fs::read_to_string(path).map_err(|source| RegistryError::Read {
        path: path.to_owned(),
        source,
    })?;
    let parse_error = |message: String| RegistryError::Parse {
        path: path.to_owned(),
        message,
    };
    if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).map_err(|e| parse_error(e.to_string()))
    } else {
        toml::from_str(&text).map_err(|e| parse_error(e.to_string()))
    }
}

/// Writes a registry file (TOML, or JSON by extension), replacing it atomically.
pub fn write_file(path: &Path, file: &RegistryFile) -> Result<(), RegistryError> {
    let text = if path.extension().is_some_and(|e| e == "json") {
        serde_json::to_string_pretty(file).map_err(|e| RegistryError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?
    } else {
        toml::to_string(file).map_err(|e| RegistryError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?
    };
    let temporary = path.with_extension("tmp");
    let io = |source| RegistryError::Read {
        path: path.to_owned(),
        source,
    };
    std::fs::write(&temporary, text).map_err(io)?;
    std::fs::rename(&temporary, path).map_err(io)
}

/// How often the file's modification time is looked at.
const RECHECK: Duration = Duration::from_secs(2);

struct Loaded {
    registry: Arc<Registry>,
    modified: Option<SystemTime>,
    checked: Instant,
}

/// The registry in force, re-read from its file when the file changes (looked at no more than
/// every two seconds, and on every token request).
pub struct RegistryHandle {
    path: Option<PathBuf>,
    loaded: RwLock<Loaded>,
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl RegistryHandle {
    /// Reads the file now; an error stops start-up.
    pub fn open(path: &Path) -> Result<Self, RegistryError> {
        let stamp = modified(path);
        let registry = Registry::load(path)?;
        Ok(Self {
            path: Some(path.to_owned()),
            loaded: RwLock::new(Loaded {
                registry: Arc::new(registry),
                modified: stamp,
                checked: Instant::now(),
            }),
        })
    }

    /// A fixed registry with no file behind it.
    pub fn fixed(registry: Registry) -> Self {
        Self {
            path: None,
            loaded: RwLock::new(Loaded {
                registry: Arc::new(registry),
                modified: None,
                checked: Instant::now(),
            }),
        }
    }

    /// The registry in force; with `fresh`, the file is looked at now rather than on schedule.
    pub fn current(&self, fresh: bool) -> Arc<Registry> {
        let due = {
            let Ok(loaded) = self.loaded.read() else {
                return Arc::new(Registry::default());
            };
            if self.path.is_none() || (!fresh && loaded.checked.elapsed() < RECHECK) {
                return loaded.registry.clone();
            }
            true
        };
        if due {
            self.reload_if_changed();
        }
        self.loaded
            .read()
            .map(|l| l.registry.clone())
            .unwrap_or_default()
    }

    fn reload_if_changed(&self) {
        let Some(path) = &self.path else { return };
        let Ok(mut loaded) = self.loaded.write() else {
            return;
        };
        loaded.checked = Instant::now();
        let stamp = modified(path);
        if stamp == loaded.modified {
            return;
        }
        match Registry::load(path) {
            Ok(registry) => {
                tracing::info!(clients = registry.len(), "client registry reloaded");
                loaded.registry = Arc::new(registry);
                loaded.modified = stamp;
            }
            Err(error) => {
                tracing::error!(%error, "client registry not reloaded; the previous one stays");
                loaded.modified = stamp;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EC_KEY: &str = r#"{"kty":"EC","crv":"P-384","x":"lInTxl8fjLKp_UCrxI0WDklahi-7-_6JbtiHjiRvMvhedhKVdHBfi2HCY8t_QJyc","y":"y6N1IC-2mXxHreETBW7K3mBcw0qGr3CWHCs-yl09yCQRLcyfGv7XhqAngHOu51Zv","alg":"ES384"}"#;

    fn client(id: &str) -> ClientRegistration {
        ClientRegistration {
            id: id.into(),
            name: "Test CAD".into(),
            organisation: "Y09871".into(),
            scopes: vec!["system/*.rs".into()],
            jwks: Some(serde_json::from_str(&format!(r#"{{"keys":[{EC_KEY}]}}"#)).unwrap()),
            jwks_uri: None,
            emergency_override: false,
            trusted_user_headers: false,
            rate_limit_per_second: None,
        }
    }

    fn refused(change: impl Fn(&mut ClientRegistration)) -> String {
        let mut registration = client("cad");
        change(&mut registration);
        Registry::from_file(RegistryFile {
            clients: vec![registration],
        })
        .unwrap_err()
        .to_string()
    }

    #[test]
    fn a_good_client_is_registered() {
        let registry = Registry::from_file(RegistryFile {
            clients: vec![client("cad"), client("ooh")],
        })
        .unwrap();
        assert_eq!(registry.len(), 2);
        assert!(registry.get("cad").is_some());
        assert!(registry.get("nobody").is_none());
    }

    #[test]
    fn each_rule_is_enforced() {
        assert!(refused(|c| c.id = " ".into()).contains("id"));
        assert!(refused(|c| c.organisation = "not ods!".into()).contains("organisation"));
        assert!(refused(|c| c.scopes = vec!["user/*.read".into()]).contains("scope"));
        assert!(refused(|c| c.jwks = None).contains("exactly one"));
        assert!(
            refused(|c| c.jwks_uri = Some("https://example.org/jwks".into()))
                .contains("exactly one")
        );
        assert!(refused(|c| {
            c.jwks = None;
            c.jwks_uri = Some("http://example.org/jwks".into());
        })
        .contains("https"));
        assert!(refused(|c| {
            c.jwks =
                Some(serde_json::from_str(r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#).unwrap());
        })
        .contains("RSA"));
        assert!(refused(|c| c.rate_limit_per_second = Some(0)).contains("rate"));
        let twice = Registry::from_file(RegistryFile {
            clients: vec![client("cad"), client("cad")],
        })
        .unwrap_err();
        assert!(twice.to_string().contains("twice"));
    }

    #[test]
    fn toml_and_json_files_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["clients.toml", "clients.json"] {
            let path = dir.path().join(name);
            let file = RegistryFile {
                clients: vec![client("cad")],
            };
            write_file(&path, &file).unwrap();
            assert_eq!(read_file(&path).unwrap().clients, file.clients);
            assert!(Registry::load(&path).unwrap().get("cad").is_some());
        }
    }

    #[test]
    fn a_changed_file_is_reloaded_and_a_broken_one_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clients.toml");
        write_file(
            &path,
            &RegistryFile {
                clients: vec![client("cad")],
            },
        )
        .unwrap();
        let handle = RegistryHandle::open(&path).unwrap();
        assert!(handle.current(true).get("ooh").is_none());
        write_file(
            &path,
            &RegistryFile {
                clients: vec![client("cad"), client("ooh")],
            },
        )
        .unwrap();
        // Modification times can be coarse: make the change visible whatever the filesystem.
        let later = SystemTime::now() + Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(later)
            .unwrap();
        assert!(handle.current(true).get("ooh").is_some());
        std::fs::write(&path, "this is not toml [").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(later + Duration::from_secs(5))
            .unwrap();
        assert!(handle.current(true).get("ooh").is_some());
    }
}
