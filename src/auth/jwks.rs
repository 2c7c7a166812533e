//! Public keys fetched from a `jwks_uri` (a client's, or an external identity provider's), kept
//! for a bounded time. An unknown `kid` triggers a refetch (a rotated key), but no more than
//! once every 30 seconds per URI, so a flood of made-up key ids cannot turn the service into a
//! fetcher.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;

/// The least time between two fetches of the same URI.
const MIN_REFETCH: Duration = Duration::from_secs(30);
/// The largest key set accepted.
const MAX_BYTES: usize = 256 * 1024;

struct Entry {
    fetched: Instant,
    keys: Arc<JwkSet>,
}

/// The cache.
pub struct JwksCache {
    http: reqwest::Client,
    lifetime: Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

impl JwksCache {
    /// A cache whose entries live for `lifetime`.
    pub fn new(lifetime: Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self {
            http,
            lifetime,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, uri: &str, kid: Option<&str>) -> Option<Arc<JwkSet>> {
        let entries = self.entries.lock().ok()?;
        let entry = entries.get(uri)?;
        let age = entry.fetched.elapsed();
        if age >= self.lifetime {
            return None;
        }
        let has_kid = kid.is_none_or(|kid| entry.keys.find(kid).is_some());
        (has_kid || age < MIN_REFETCH).then(|| entry.keys.clone())
    }

    /// The key set at `uri`, from the cache when fresh and (if `kid` is given) holding that key.
    pub async fn get(&self, uri: &str, kid: Option<&str>) -> Result<Arc<JwkSet>, String> {
        if let Some(keys) = self.cached(uri, kid) {
            return Ok(keys);
        }
        let response = self
            .http
            .get(uri)
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| format!("fetching the key set failed: {}", e.without_url()))?;
        if !response.status().is_success() {
            return Err(format!("the key set URI answered {}", response.status()));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("reading the key set failed: {}", e.without_url()))?;
        if body.len() > MAX_BYTES {
            return Err("the key set is too large".into());
        }
        let keys: JwkSet =
            serde_json::from_slice(&body).map_err(|_| "the key set is not a JWKS".to_owned())?;
        let keys = Arc::new(keys);
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(
                uri.to_owned(),
                Entry {
                    fetched: Instant::now(),
                    keys: keys.clone(),
                },
            );
        }
        Ok(keys)
    }
}
