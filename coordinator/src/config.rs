//! Configuration: a TOML file (`deploy/services/config/coordinator.toml` documents every
//! key), overridden by environment variables `CYXWIZ_<SECTION>_<KEY>`, overridden by
//! command-line flags. Every number the spec gives is a default here.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use serde::{Deserialize, Serialize};

use crate::{pricing::PriceList, scheduler::Weights, types::JobLimits};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub chain: ChainConfig,
    pub database: DatabaseConfig,
    pub redis: RedisConfig,
    pub api: ApiConfig,
    pub matching: MatchingConfig,
    pub batching: BatchingConfig,
    pub limits: LimitsConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChainConfig {
    pub rpc_url: String,
    pub ws_url: String,
    /// `processed`, `confirmed` or `finalized`.
    pub commitment: String,
    /// JobEscrow's `coordinator` key (assigns nodes, pays for timeout refunds).
    pub coordinator_keypair: PathBuf,
    /// ReputationManager's `updater` key (signs batches).
    pub updater_keypair: PathBuf,
    pub reconcile_interval_secs: u64,
    /// How often node stakes and reputations are re-read from chain.
    pub refresh_interval_secs: u64,
}

impl Default for ChainConfig {
    fn default() -> Self {
        ChainConfig {
            rpc_url: "http://127.0.0.1:8899".into(),
            ws_url: "ws://127.0.0.1:8900".into(),
            commitment: "confirmed".into(),
            coordinator_keypair: PathBuf::from(".cyxwiz/localnet/coordinator.json"),
            updater_keypair: PathBuf::from(".cyxwiz/localnet/updater.json"),
            reconcile_interval_secs: 300,
            refresh_interval_secs: 60,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `postgres://…` (replicas) or `sqlite:path` (one replica, the embedded default).
    pub url: String,
    /// Read the Postgres password from this file (kept out of the URL and the config).
    pub password_file: Option<PathBuf>,
    pub max_connections: u32,
    /// Postgres schema (created if missing).
    pub schema: Option<String>,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: "sqlite:.cyxwiz/coordinator.db".into(),
            password_file: None,
            max_connections: 16,
            schema: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// Empty: in-process shared state (one replica only).
    pub url: String,
    /// Key prefix (several deployments or tests on one Redis).
    pub prefix: String,
    pub timeout_ms: u64,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            url: String::new(),
            prefix: "cyxwiz".into(),
            timeout_ms: 1_000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    pub grpc_listen: SocketAddr,
    pub http_listen: SocketAddr,
    /// Largest gRPC request message.
    pub max_request_bytes: usize,
    pub request_timeout_ms: u64,
    /// Requests served at once per listener; more wait (then time out).
    pub max_concurrent_requests: usize,
    /// `WatchJob` streams open at once per replica.
    pub max_watchers: usize,
    /// Longest a `WatchJob` stream stays open.
    pub watch_max_secs: u64,
    pub jobs_per_wallet_per_day: u32,
    /// All authenticated calls per wallet per minute.
    pub requests_per_wallet_per_minute: u32,
    pub jwt_ttl_secs: u64,
    /// Signing key of the P2P credentials (Solana CLI JSON). Replicas must share it.
    /// Default: the coordinator keypair.
    pub jwt_keypair: Option<PathBuf>,
    pub max_clock_skew_secs: u64,
    pub reservation_secs: u64,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            grpc_listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            http_listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_request_bytes: 64 * 1024,
            request_timeout_ms: 30_000,
            max_concurrent_requests: 1_024,
            max_watchers: 1_000,
            watch_max_secs: 3_600,
            jobs_per_wallet_per_day: 10,
            requests_per_wallet_per_minute: 600,
            jwt_ttl_secs: 300,
            jwt_keypair: None,
            max_clock_skew_secs: 60,
            reservation_secs: 300,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MatchingConfig {
    pub weights: Weights,
    pub health_window_secs: u64,
    /// A node that has not accepted this long after assignment is replaced.
    pub accept_timeout_secs: u64,
    pub top_k: usize,
    pub max_candidates: usize,
    /// How often each replica reloads the node set from the database.
    pub cache_refresh_ms: u64,
    pub prices: PriceList,
    /// Most re-matches of one job before it is left to time out.
    pub max_rematches: u32,
}

impl Default for MatchingConfig {
    fn default() -> Self {
        MatchingConfig {
            weights: Weights::default(),
            health_window_secs: 120,
            accept_timeout_secs: 300,
            top_k: 4,
            max_candidates: 8,
            cache_refresh_ms: 1_000,
            prices: PriceList::default(),
            max_rematches: 3,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BatchingConfig {
    /// Flush when this many updates wait…
    pub reputation_batch_jobs: u32,
    /// …or when the oldest has waited this long.
    pub reputation_batch_secs: u64,
    /// Uptime reports: one per node per period, from its heartbeats.
    pub uptime_period_secs: u64,
    /// Most updates in one transaction; the gateway also shrinks a batch that does not
    /// fit a packet.
    pub max_updates_per_tx: u32,
    /// How often the leader looks for periodic work.
    pub tick_ms: u64,
    /// Leader lease length (a dead leader is replaced after this).
    pub lease_secs: u64,
}

impl Default for BatchingConfig {
    fn default() -> Self {
        BatchingConfig {
            reputation_batch_jobs: 50,
            reputation_batch_secs: 600,
            uptime_period_secs: 3_600,
            max_updates_per_tx: 64,
            tick_ms: 1_000,
            lease_secs: 10,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    pub max_module_bytes: u64,
    pub max_dataset_bytes: u64,
    pub max_epochs: u32,
    pub max_estimated_secs: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_module_bytes: 64 * 1024 * 1024,
            max_dataset_bytes: 16 * 1024 * 1024 * 1024,
            max_epochs: 100_000,
            max_estimated_secs: 30 * 24 * 3_600,
        }
    }
}

impl LimitsConfig {
    pub fn job_limits(&self) -> JobLimits {
        JobLimits {
            max_module_bytes: self.max_module_bytes,
            max_dataset_bytes: self.max_dataset_bytes,
            max_epochs: self.max_epochs,
            max_estimated_secs: self.max_estimated_secs,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

const ENV_PREFIX: &str = "CYXWIZ_";
const SECTIONS: [&str; 7] = [
    "chain", "database", "redis", "api", "matching", "batching", "limits",
];

impl Config {
    /// The file at `path` (if any) with `CYXWIZ_<SECTION>_<KEY>` variables from `env`
    /// applied on top. A variable's value is read as a TOML value when it parses as one
    /// (numbers, booleans, arrays), else as a string.
    pub fn load(
        path: Option<&std::path::Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut table = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.to_path_buf(),
                    source,
                })?;
                text.parse::<toml::Table>()
                    .map_err(|e| ConfigError::Invalid(format!("{}: {e}", p.display())))?
            }
            None => toml::Table::new(),
        };
        for (name, value) in env {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let rest = rest.to_ascii_lowercase();
            let Some((section, key)) = rest.split_once('_') else {
                continue;
            };
            if !SECTIONS.contains(&section) {
                continue;
            }
            let parsed = format!("v = {value}")
                .parse::<toml::Table>()
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or(toml::Value::String(value));
            let entry = table
                .entry(section.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(t) => {
                    t.insert(key.to_string(), parsed);
                }
                _ => return Err(ConfigError::Invalid(format!("[{section}] is not a table"))),
            }
        }
        let config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_string()));
        if self.api.jwt_ttl_secs == 0 || self.api.jwt_ttl_secs > 300 {
            return bad("api.jwt_ttl_secs must be 1..=300 (credentials are short-lived)");
        }
        if self.api.reservation_secs == 0 {
            return bad("api.reservation_secs must be positive");
        }
        if self.api.max_request_bytes < 1_024 {
            return bad("api.max_request_bytes must be at least 1024");
        }
        if self.api.max_concurrent_requests == 0 || self.api.max_watchers == 0 {
            return bad("api.max_concurrent_requests and api.max_watchers must be positive");
        }
        if self.batching.max_updates_per_tx == 0 || self.batching.max_updates_per_tx > 256 {
            return bad("batching.max_updates_per_tx must be 1..=256");
        }
        if self.batching.lease_secs == 0 || self.batching.tick_ms == 0 {
            return bad("batching.lease_secs and batching.tick_ms must be positive");
        }
        if let Err(e) = cyxwiz_proto::config::parse_commitment(&self.chain.commitment) {
            return bad(&e);
        }
        Ok(())
    }

    pub fn reservation(&self) -> Duration {
        Duration::from_secs(self.api.reservation_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_spec_numbers() {
        let c = Config::load(None, []).unwrap();
        assert_eq!(c.api.jobs_per_wallet_per_day, 10);
        assert_eq!(c.api.jwt_ttl_secs, 300);
        assert_eq!(c.api.reservation_secs, 300);
        assert_eq!(c.matching.health_window_secs, 120);
        assert_eq!(c.chain.reconcile_interval_secs, 300);
        assert!(c.redis.url.is_empty());
        assert!(c.database.url.starts_with("sqlite:"));
    }

    #[test]
    fn environment_overrides_the_file_with_typed_values() {
        let dir = std::env::temp_dir().join(format!("cyxwiz-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(
            &file,
            "[api]\njobs_per_wallet_per_day = 3\n[redis]\nurl = \"redis://file\"\n",
        )
        .unwrap();
        let c = Config::load(
            Some(&file),
            [
                (
                    "CYXWIZ_REDIS_URL".to_string(),
                    "redis://env:6379".to_string(),
                ),
                ("CYXWIZ_API_JWT_TTL_SECS".to_string(), "120".to_string()),
                ("UNRELATED".to_string(), "x".to_string()),
            ],
        )
        .unwrap();
        assert_eq!(c.api.jobs_per_wallet_per_day, 3);
        assert_eq!(c.redis.url, "redis://env:6379");
        assert_eq!(c.api.jwt_ttl_secs, 120);
    }

    #[test]
    fn the_shipped_example_file_is_valid() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../deploy/services/config/coordinator.toml");
        let c = Config::load(Some(&path), []).unwrap();
        assert_eq!(c.api.grpc_listen.port(), 50051);
        assert_eq!(c.batching.reputation_batch_jobs, 50);
    }

    #[test]
    fn bad_values_are_refused_by_name() {
        let err =
            Config::load(None, [("CYXWIZ_API_JWT_TTL_SECS".into(), "3600".into())]).unwrap_err();
        assert!(err.to_string().contains("jwt_ttl_secs"), "{err}");
        let err = Config::load(None, [("CYXWIZ_API_NO_SUCH_KEY".into(), "1".into())]).unwrap_err();
        assert!(err.to_string().contains("no_such_key"), "{err}");
    }
}
