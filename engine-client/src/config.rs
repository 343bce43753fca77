//! The engine's configuration: `~/.cyxwiz/config.toml` sections `[engine]`, `[chain]` and
//! `[coordinator]` (other sections belong to other programs and are ignored), overridden
//! by `CYXWIZ_<SECTION>_<KEY>` environment variables (`CYXWIZ_ENGINE_KEYPAIR`,
//! `CYXWIZ_CHAIN_RPC_URL`, `CYXWIZ_COORDINATOR_URL`, …), overridden by the CLI's flags.
//! A key a section does not know is refused by name, so a typo never silently falls
//! back to a default.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use cyxwiz_common::units::ONE_CYXWIZ;
use cyxwiz_proto::config::{
    ChainSection, CoordinatorSection, expand_home, home_dir, layered_table,
};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The sections this program reads.
pub const SECTIONS: [&str; 3] = ["engine", "chain", "coordinator"];

/// The whole configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    pub engine: EngineSection,
    pub chain: ChainSection,
    pub coordinator: CoordinatorSection,
}

/// A token amount in the configuration: a number of tokens (`100`, `2.5`) or a string
/// (`"2.5"`), always read as tokens with up to 9 decimals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TokenSetting {
    Integer(u64),
    Text(String),
    Float(f64),
}

impl TokenSetting {
    /// Base units.
    pub fn base_units(&self) -> Result<u64> {
        match self {
            TokenSetting::Integer(n) => n.checked_mul(ONE_CYXWIZ).ok_or_else(|| Error::Amount {
                text: n.to_string(),
                reason: "too large".into(),
            }),
            TokenSetting::Text(t) => crate::parse_tokens(t),
            TokenSetting::Float(f) => crate::parse_tokens(&f.to_string()),
        }
    }
}

/// `[engine]`: the submitter's wallet, where jobs are kept, and job defaults.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineSection {
    /// The wallet (Solana CLI JSON keypair) that signs calls and pays escrows.
    pub keypair: PathBuf,
    /// Job journals and downloaded weights, one directory per job.
    pub jobs_dir: PathBuf,
    /// The CYXWIZ token account escrows are paid from (default: the wallet's largest).
    pub token_account: Option<String>,
    /// The most a job may cost, in tokens, unless the command says otherwise.
    pub max_price: TokenSetting,
    /// The escrow's timeout in seconds (0: the program's default).
    pub timeout_secs: i64,
    /// The default estimate of a job's training time, in seconds.
    pub estimated_secs: u32,
    /// The default hardware a job asks for.
    pub cpu_cores: u32,
    pub ram_mb: u32,
    /// The default region ("" for any) and priority (low, normal, high, critical).
    pub region: String,
    pub priority: String,
    /// Connecting to a node.
    pub connect_timeout_ms: u64,
    /// One call on the node's channel (uploads and waits have their own bounds).
    pub call_timeout_ms: u64,
    /// How long an upload may take in all.
    pub upload_timeout_secs: u64,
    /// How many times, and how often, a broken metrics stream is reopened.
    pub reconnect_attempts: u32,
    pub reconnect_interval_ms: u64,
    /// How long to wait for the node to settle a trained job on chain.
    pub settle_timeout_secs: u64,
    /// The largest weights blob accepted.
    pub max_weights_bytes: u64,
}

impl Default for EngineSection {
    fn default() -> Self {
        let home = home_dir();
        EngineSection {
            keypair: home.join("engine/keypair.json"),
            jobs_dir: home.join("engine/jobs"),
            token_account: None,
            max_price: TokenSetting::Integer(100),
            timeout_secs: 0,
            estimated_secs: 600,
            cpu_cores: 1,
            ram_mb: 512,
            region: String::new(),
            priority: "normal".into(),
            connect_timeout_ms: 10_000,
            call_timeout_ms: 30_000,
            upload_timeout_secs: 900,
            reconnect_attempts: 60,
            reconnect_interval_ms: 1_000,
            settle_timeout_secs: 300,
            max_weights_bytes: 1 << 30,
        }
    }
}

impl EngineConfig {
    /// The default file, `~/.cyxwiz/config.toml`.
    pub fn default_path() -> PathBuf {
        home_dir().join("config.toml")
    }

    /// Loads `path` (or the default file if it exists, when `path` is `None`) with the
    /// process environment applied.
    pub fn load(path: Option<&Path>) -> Result<EngineConfig> {
        let default = Self::default_path();
        let path = match path {
            Some(p) => Some(p.to_path_buf()),
            None => default.exists().then_some(default),
        };
        Self::load_from(path.as_deref(), std::env::vars())
    }

    /// Loads `path` (if any) with the variables of `env` applied; the testable core of
    /// [`EngineConfig::load`].
    pub fn load_from(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<EngineConfig> {
        let table =
            layered_table(path, env, &SECTIONS).map_err(|e| Error::Config(e.to_string()))?;
        let mut config: EngineConfig = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| Error::Config(e.to_string()))?;
        config.engine.keypair = expand_home(&config.engine.keypair);
        config.engine.jobs_dir = expand_home(&config.engine.jobs_dir);
        config.validate()?;
        Ok(config)
    }

    /// Checks values serde cannot.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(m));
        if self.engine.max_price()? == 0 {
            return bad("[engine] max_price must be positive".into());
        }
        if self.engine.timeout_secs < 0 {
            return bad("[engine] timeout_secs must not be negative".into());
        }
        if self.engine.max_weights_bytes == 0 || self.engine.max_weights_bytes > 1 << 30 {
            return bad("[engine] max_weights_bytes must be 1..=1073741824".into());
        }
        if crate::spec::parse_priority(&self.engine.priority).is_none() {
            return bad(format!(
                "[engine] priority {:?}: expected low, normal, high or critical",
                self.engine.priority
            ));
        }
        self.chain.validate().map_err(Error::Config)?;
        self.coordinator.validate().map_err(Error::Config)?;
        Ok(())
    }

    /// The chain commitment level.
    pub fn commitment(&self) -> Result<solana_commitment_config::CommitmentConfig> {
        self.chain.commitment().map_err(Error::Config)
    }

    pub fn coordinator_timeout(&self) -> Duration {
        self.coordinator.timeout()
    }
}

impl EngineSection {
    /// The default budget in base units.
    pub fn max_price(&self) -> Result<u64> {
        self.max_price.base_units()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("config.toml");
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn defaults_without_a_file() {
        let c = EngineConfig::load_from(None, []).unwrap();
        assert_eq!(c.chain.rpc_url, "http://127.0.0.1:8899");
        assert_eq!(c.coordinator.url, "http://127.0.0.1:50051");
        assert!(c.engine.keypair.ends_with("engine/keypair.json"));
        assert!(c.engine.jobs_dir.ends_with("engine/jobs"));
        assert_eq!(c.engine.max_price().unwrap(), 100 * ONE_CYXWIZ);
        assert_eq!(c.engine.reconnect_attempts, 60);
    }

    #[test]
    fn file_then_env_and_foreign_sections_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "[engine]\nkeypair = \"/k/id.json\"\nmax_price = \"2.5\"\n\
             [chain]\nrpc_url = \"http://rpc:1\"\n[node]\ncapacity = 9\n",
        );
        let c = EngineConfig::load_from(
            Some(&p),
            [
                ("CYXWIZ_COORDINATOR_URL".into(), "http://coord:2".into()),
                ("CYXWIZ_ENGINE_JOBS_DIR".into(), "/j".into()),
                ("CYXWIZ_ENGINE_TIMEOUT_SECS".into(), "120".into()),
                ("CYXWIZ_NODE_CAPACITY".into(), "3".into()),
            ],
        )
        .unwrap();
        assert_eq!(c.engine.keypair, PathBuf::from("/k/id.json"));
        assert_eq!(c.engine.jobs_dir, PathBuf::from("/j"));
        assert_eq!(c.engine.timeout_secs, 120);
        assert_eq!(c.engine.max_price().unwrap(), 2_500_000_000);
        assert_eq!(c.chain.rpc_url, "http://rpc:1");
        assert_eq!(c.coordinator.url, "http://coord:2");
        // The env wins over the file.
        let c = EngineConfig::load_from(
            Some(&p),
            [("CYXWIZ_ENGINE_KEYPAIR".into(), "/other.json".into())],
        )
        .unwrap();
        assert_eq!(c.engine.keypair, PathBuf::from("/other.json"));
        // Numbers in the env are tokens too.
        let c = EngineConfig::load_from(Some(&p), [("CYXWIZ_ENGINE_MAX_PRICE".into(), "7".into())])
            .unwrap();
        assert_eq!(c.engine.max_price().unwrap(), 7 * ONE_CYXWIZ);
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "[engine]\nkeypiar = \"/k\"\n");
        let err = EngineConfig::load_from(Some(&p), [])
            .unwrap_err()
            .to_string();
        assert!(err.contains("keypiar"), "{err}");
        let err = EngineConfig::load_from(None, [("CYXWIZ_CHAIN_RPC".into(), "x".into())])
            .unwrap_err()
            .to_string();
        assert!(err.contains("rpc"), "{err}");
    }

    #[test]
    fn bad_values_are_refused() {
        for env in [
            ("CYXWIZ_ENGINE_MAX_PRICE", "0"),
            ("CYXWIZ_ENGINE_MAX_PRICE", "1.0000000001"),
            ("CYXWIZ_ENGINE_PRIORITY", "urgent"),
            ("CYXWIZ_CHAIN_RPC_URL", "ftp://x"),
            ("CYXWIZ_CHAIN_COMMITMENT", "maybe"),
            ("CYXWIZ_ENGINE_TIMEOUT_SECS", "-5"),
        ] {
            assert!(
                EngineConfig::load_from(None, [(env.0.to_string(), env.1.to_string())]).is_err(),
                "{env:?}"
            );
        }
    }
}
