//! The engine's configuration: `~/.cyxwiz/config.toml` sections `[engine]`, `[chain]`,
//! `[coordinator]` and `[network]` (other sections belong to other programs and are
//! ignored; `[network]` is shared with the node daemon, and the engine reads only the
//! keys a mesh client needs, see [`NetworkSection`]), overridden
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
pub const SECTIONS: [&str; 4] = ["engine", "chain", "coordinator", "network"];

/// The whole configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    pub engine: EngineSection,
    pub chain: ChainSection,
    pub coordinator: CoordinatorSection,
    pub network: NetworkSection,
}

/// How the engine finds a node (`[engine] discovery`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Discovery {
    /// The coordinator; when it cannot be reached (after `coordinator_attempts`), the
    /// mesh and the user's own assignment on chain.
    #[default]
    Auto,
    /// The coordinator only.
    Coordinator,
    /// The mesh only: never contact the coordinator (`cyxwiz run --no-coordinator`).
    Mesh,
}

/// `[network]` as the engine reads it: a mesh *client* that joins through the bootstrap
/// peers, searches the DHT and leaves; it never listens for or announces anything, so
/// the node daemon's keys of the shared section (listen addresses, capabilities, relay
/// limits, …) are not its business and are ignored here (the daemon checks them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkSection {
    /// Bootstrap peers, each `/ip4/…/tcp/…/p2p/<peer id>`.
    pub bootstrap: Vec<String>,
    /// mDNS discovery on the local network (the localnet's nodes answer it).
    pub mdns: bool,
    /// Private and loopback addresses count (localnet, LAN).
    pub private_networks: bool,
    /// Seconds a DHT query may take.
    pub query_timeout: u64,
}

impl Default for NetworkSection {
    fn default() -> Self {
        NetworkSection {
            bootstrap: Vec::new(),
            mdns: false,
            private_networks: false,
            query_timeout: 20,
        }
    }
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
    /// How a node is found: `auto` (coordinator, then the mesh if it is unreachable),
    /// `coordinator` or `mesh`.
    pub discovery: Discovery,
    /// Calls to an unreachable coordinator before `auto` falls back to the mesh.
    pub coordinator_attempts: u32,
    /// The capability searched for on the mesh.
    pub capability: String,
    /// How long joining the mesh and finding candidates may take, in seconds.
    pub discovery_timeout_secs: u64,
    /// Most candidates checked on chain and probed.
    pub max_candidates: usize,
    /// The longest the engine waits for the chain's `user_assign_after_secs` window
    /// before assigning a node itself; a chain with a longer window is refused before
    /// anything is paid.
    pub max_assign_wait_secs: u64,
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
            discovery: Discovery::Auto,
            coordinator_attempts: 3,
            capability: cyxwiz_channel::discovery::WASM_CAPABILITY.into(),
            discovery_timeout_secs: 30,
            max_candidates: 8,
            max_assign_wait_secs: 1_200,
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
        if self.engine.coordinator_attempts == 0 || self.engine.coordinator_attempts > 10 {
            return bad("[engine] coordinator_attempts must be 1..=10".into());
        }
        if self.engine.max_candidates == 0 || self.engine.max_candidates > 64 {
            return bad("[engine] max_candidates must be 1..=64".into());
        }
        if self.engine.discovery_timeout_secs == 0 {
            return bad("[engine] discovery_timeout_secs must be positive".into());
        }
        if self.engine.capability.is_empty() {
            return bad("[engine] capability must not be empty".into());
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
    fn discovery_mode_and_the_shared_network_section() {
        let c = EngineConfig::load_from(None, []).unwrap();
        assert_eq!(c.engine.discovery, Discovery::Auto);
        assert_eq!(c.engine.coordinator_attempts, 3);
        assert!(c.network.bootstrap.is_empty());
        let dir = tempfile::tempdir().unwrap();
        // The node daemon's keys of [network] (listen, max_peers, …) are not the
        // engine's and do not trip it.
        let p = write(
            dir.path(),
            "[engine]\ndiscovery = \"mesh\"\n[network]\nbootstrap = [\"/ip4/127.0.0.1/tcp/4001\"]\n\
             listen = [\"/ip4/0.0.0.0/tcp/4001\"]\nmax_peers = 12\nprivate_networks = true\n",
        );
        let c = EngineConfig::load_from(Some(&p), []).unwrap();
        assert_eq!(c.engine.discovery, Discovery::Mesh);
        assert_eq!(
            c.network.bootstrap,
            vec!["/ip4/127.0.0.1/tcp/4001".to_string()]
        );
        assert!(c.network.private_networks);
        let c = EngineConfig::load_from(
            Some(&p),
            [("CYXWIZ_ENGINE_DISCOVERY".into(), "coordinator".into())],
        )
        .unwrap();
        assert_eq!(c.engine.discovery, Discovery::Coordinator);
        for (k, v) in [
            ("CYXWIZ_ENGINE_DISCOVERY", "sometimes"),
            ("CYXWIZ_ENGINE_COORDINATOR_ATTEMPTS", "0"),
            ("CYXWIZ_ENGINE_MAX_CANDIDATES", "0"),
        ] {
            assert!(
                EngineConfig::load_from(None, [(k.to_string(), v.to_string())]).is_err(),
                "{k}={v}"
            );
        }
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
