//! The node's configuration: `~/.cyxwiz/config.toml` (sections `[node]`, `[chain]`,
//! `[coordinator]`, `[jobs]`, `[storage]`, `[network]`, `[logging]`; other sections belong
//! to other programs and are ignored), overridden by `CYXWIZ_<SECTION>_<KEY>` variables, overridden
//! by `cyxwizd`'s flags. Every number the spec gives is a default here.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use cyxwiz_proto::config::{
    ChainSection, CoordinatorSection, expand_home, home_dir, layered_table,
};
use serde::{Deserialize, Serialize};

pub const SECTIONS: [&str; 7] = [
    "node",
    "chain",
    "coordinator",
    "jobs",
    "storage",
    "network",
    "logging",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Layer(#[from] cyxwiz_proto::config::LayerError),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub node: NodeSection,
    pub chain: ChainSection,
    pub coordinator: CoordinatorSection,
    pub jobs: JobsSection,
    pub storage: StorageSection,
    pub network: NetworkSection,
    pub logging: LoggingSection,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeSection {
    /// Operator wallet (Solana CLI JSON); created on first start if missing.
    pub keypair: PathBuf,
    /// TLS key of the job channel (PKCS#8 PEM); created on first start if missing.
    pub tls_key: PathBuf,
    /// The wallet's CYXWIZ token account: stake comes from it, payments go to it.
    pub token_account: Option<String>,
    /// Base units staked when the node is not registered on chain yet (0: the node must
    /// already be registered).
    pub stake: u64,
    /// Where the job channel listens.
    pub listen: SocketAddr,
    /// The `https://host:port` engines reach the job channel at.
    pub advertise: String,
    /// Jobs trained at once.
    pub capacity: u32,
    pub region: String,
    /// Ask relative to the list price (10,000 = list; 0 = list).
    pub price_bps: u32,
    /// CPU cores and RAM offered (0: detected).
    pub cpu_cores: u32,
    pub ram_mb: u32,
    /// On shutdown, how long running jobs get to reach an epoch boundary and settlements
    /// in flight get to land.
    pub shutdown_grace_secs: u64,
    /// How often the on-chain heartbeat is refreshed (the registry refuses assignments
    /// to nodes whose heartbeat is older than its `heartbeat_max_age_secs`, a day).
    pub chain_heartbeat_secs: u64,
}

impl Default for NodeSection {
    fn default() -> Self {
        let home = home_dir();
        NodeSection {
            keypair: home.join("node/keypair.json"),
            tls_key: home.join("node/tls-key.pem"),
            token_account: None,
            stake: 0,
            listen: SocketAddr::from(([0, 0, 0, 0], 7443)),
            advertise: "https://127.0.0.1:7443".into(),
            capacity: 2,
            region: String::new(),
            price_bps: 0,
            cpu_cores: 0,
            ram_mb: 0,
            shutdown_grace_secs: 30,
            chain_heartbeat_secs: 3_600,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobsSection {
    /// Progress (the checkpoint hash) goes to the coordinator every this many epochs.
    pub progress_every: u32,
    /// The Merkle root is anchored on chain every this many epochs.
    pub anchor_every: u32,
    /// Least time between two metrics messages to an engine.
    pub metrics_interval_ms: u64,
    pub max_module_bytes: u64,
    pub max_dataset_bytes: u64,
    pub max_chunk_bytes: u64,
    /// The whole upload must finish within this, and no chunk may take longer than
    /// `upload_idle_secs`.
    pub upload_timeout_secs: u64,
    pub upload_idle_secs: u64,
    /// Sandbox bounds (see cyxwiz-sandbox).
    pub fuel_per_call: u64,
    pub max_memory_mb: u64,
    pub max_call_secs: u64,
    /// `groth16` (the proof `complete_payment` verifies) or `none` (never settles).
    pub prover: String,
    /// Proving keys from the setup ceremony (`pk-<capacity>.bin`, `cyxwiz-ceremony
    /// export`). Empty: the insecure development keys, which only localnets accept.
    pub proving_keys_dir: PathBuf,
    /// After a job fails through its module, how long the engine gets to end it on chain
    /// as the user (which costs the node nothing) before the node refunds it itself.
    pub failed_refund_grace_secs: u64,
    /// How often the node looks for paid jobs whose challenge window has closed and
    /// sends `release_stake` for them (until then JobEscrow keeps the job's hold on the
    /// stake, so the stake cannot be withdrawn). Also done once at every start.
    pub stake_release_check_secs: u64,
}

impl Default for JobsSection {
    fn default() -> Self {
        JobsSection {
            progress_every: 10,
            anchor_every: 50,
            metrics_interval_ms: 500,
            max_module_bytes: cyxwiz_channel::limits::MAX_MODULE_BYTES,
            max_dataset_bytes: cyxwiz_channel::limits::MAX_DATASET_BYTES,
            max_chunk_bytes: cyxwiz_channel::limits::CHUNK_BYTES as u64,
            upload_timeout_secs: 600,
            upload_idle_secs: 30,
            fuel_per_call: 50_000_000_000,
            max_memory_mb: 512,
            max_call_secs: 300,
            prover: "groth16".into(),
            proving_keys_dir: PathBuf::new(),
            failed_refund_grace_secs: 60,
            stake_release_check_secs: 3_600,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSection {
    /// Jobs, uploads and checkpoints live here.
    pub data_dir: PathBuf,
    /// The seed's storage-node limit; jobs are refused when the data dir would pass it.
    pub max_storage_gb: u64,
}

impl Default for StorageSection {
    fn default() -> Self {
        StorageSection {
            data_dir: home_dir().join("data"),
            max_storage_gb: 100,
        }
    }
}

/// `[network]`: the IP mesh (seed 000's `max_peers` and `discovery_interval`, seed 003's
/// bootstrap, NAT traversal and relays). Addresses are multiaddrs as strings, checked
/// when the section is turned into the mesh's configuration ([`Config::mesh_config`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkSection {
    /// Join the mesh at all (off: the node works through the coordinator alone).
    pub enabled: bool,
    /// Where the mesh listens (TCP and QUIC multiaddrs).
    pub listen: Vec<String>,
    /// Addresses to announce beyond what AutoNAT confirms (a port forward, a localnet).
    pub external_addresses: Vec<String>,
    /// Bootstrap peers, each `/ip4/…/tcp/…/p2p/<peer id>`.
    pub bootstrap: Vec<String>,
    /// Relays to reserve a slot on when this node is not reachable (each `/p2p/…`).
    pub relays: Vec<String>,
    /// Seed 000: the most peers connected at once.
    pub max_peers: usize,
    /// Seed 000: seconds between discovery rounds (DHT walk, bootstrap redial,
    /// neighbour lists).
    pub discovery_interval: u64,
    /// The node is publicly reachable (or on a LAN/localnet): Kademlia serves from the
    /// start and the node is a relay for others.
    pub reachable: bool,
    /// mDNS discovery on the local network. Off in production; the localnet turns it on.
    pub mdns: bool,
    /// Private and loopback addresses count as reachable (localnet, LAN, namespaces).
    pub private_networks: bool,
    /// Largest share of `max_peers` one IPv4 /24 (IPv6 /48) may hold (eclipse
    /// resistance, decision 113).
    pub max_prefix_share: f64,
    /// Seconds the node's announcement lives, and between its republications.
    pub record_ttl: u64,
    pub announce_interval: u64,
    /// Seconds before a connection without traffic is closed.
    pub idle_timeout: u64,
    /// Milliseconds shutdown waits for peers to acknowledge GOODBYE.
    pub goodbye_timeout_ms: u64,
    /// Seconds a DHT query may take.
    pub query_timeout: u64,
    /// Capabilities announced beside the implicit `type:compute` (lowercase tokens).
    pub capabilities: Vec<String>,
}

impl Default for NetworkSection {
    fn default() -> Self {
        let mesh = cyxwiz_mesh::MeshConfig::default();
        NetworkSection {
            enabled: true,
            listen: mesh.listen.iter().map(ToString::to_string).collect(),
            external_addresses: vec![],
            bootstrap: vec![],
            relays: vec![],
            max_peers: mesh.max_peers,
            discovery_interval: mesh.discovery_interval.as_secs(),
            reachable: mesh.reachable,
            mdns: mesh.mdns,
            private_networks: mesh.private_networks,
            max_prefix_share: mesh.diversity.max_share,
            record_ttl: mesh.record_ttl.as_secs(),
            announce_interval: mesh.announce_interval.as_secs(),
            idle_timeout: mesh.idle_timeout.as_secs(),
            goodbye_timeout_ms: mesh.goodbye_timeout.as_millis() as u64,
            query_timeout: mesh.query_timeout.as_secs(),
            capabilities: vec!["wasm".into()],
        }
    }
}

impl NetworkSection {
    /// The mesh's configuration, checked: every address parses, bootstrap and relay
    /// addresses name their peer, and the mesh's own rules hold.
    pub fn mesh_config(&self) -> Result<cyxwiz_mesh::MeshConfig, ConfigError> {
        let bad = |m: String| ConfigError::Invalid(m);
        let addrs = |field: &str, list: &[String], need_peer: bool| {
            list.iter()
                .map(|s| {
                    let a: cyxwiz_mesh::Multiaddr = s.parse().map_err(|e| {
                        bad(format!("network.{field}: {s:?} is not a multiaddr: {e}"))
                    })?;
                    if need_peer && !s.contains("/p2p/") {
                        return Err(bad(format!(
                            "network.{field}: {s:?} must end in /p2p/<peer id>"
                        )));
                    }
                    Ok(a)
                })
                .collect::<Result<Vec<_>, ConfigError>>()
        };
        for c in &self.capabilities {
            let ok = !c.is_empty()
                && c.len() <= 32
                && c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b":._-".contains(&b));
            if !ok {
                return Err(bad(format!(
                    "network.capabilities: {c:?} must be 1-32 of a-z 0-9 : . _ -"
                )));
            }
        }
        let defaults = cyxwiz_mesh::MeshConfig::default();
        let cfg = cyxwiz_mesh::MeshConfig {
            listen: addrs("listen", &self.listen, false)?,
            external_addresses: addrs("external_addresses", &self.external_addresses, false)?,
            bootstrap: addrs("bootstrap", &self.bootstrap, true)?,
            relays: addrs("relays", &self.relays, true)?,
            max_peers: self.max_peers,
            discovery_interval: Duration::from_secs(self.discovery_interval),
            reachable: self.reachable,
            mdns: self.mdns,
            private_networks: self.private_networks,
            record_ttl: Duration::from_secs(self.record_ttl),
            announce_interval: Duration::from_secs(self.announce_interval),
            idle_timeout: Duration::from_secs(self.idle_timeout),
            goodbye_timeout: Duration::from_millis(self.goodbye_timeout_ms),
            query_timeout: Duration::from_secs(self.query_timeout),
            diversity: cyxwiz_mesh::diversity::DiversityConfig {
                max_share: self.max_prefix_share,
                ..defaults.diversity
            },
            ..defaults
        };
        if cfg.listen.is_empty() {
            return Err(bad("network.listen must name at least one address".into()));
        }
        if cfg.idle_timeout.is_zero() || cfg.query_timeout.is_zero() {
            return Err(bad(
                "network.idle_timeout and network.query_timeout must be positive".into(),
            ));
        }
        if cfg.goodbye_timeout > Duration::from_secs(30) {
            return Err(bad(
                "network.goodbye_timeout_ms must be at most 30000".into()
            ));
        }
        cfg.validate().map_err(|e| bad(format!("network: {e}")))?;
        Ok(cfg)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingSection {
    pub level: String,
}

impl Default for LoggingSection {
    fn default() -> Self {
        LoggingSection {
            level: "info".into(),
        }
    }
}

impl Config {
    /// The file at `path` (if it exists or was named) with the environment on top.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let table = layered_table(path, env, &SECTIONS)?;
        let mut cfg: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(e.to_string()))?;
        cfg.expand_paths();
        cfg.validate()?;
        Ok(cfg)
    }

    /// `~/` in configured paths means the operator's home.
    pub fn expand_paths(&mut self) {
        self.node.keypair = expand_home(&self.node.keypair);
        self.node.tls_key = expand_home(&self.node.tls_key);
        self.storage.data_dir = expand_home(&self.storage.data_dir);
        if !self.jobs.proving_keys_dir.as_os_str().is_empty() {
            self.jobs.proving_keys_dir = expand_home(&self.jobs.proving_keys_dir);
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if self.node.capacity == 0 || self.node.capacity > 64 {
            return bad("node.capacity must be 1..=64".into());
        }
        if cyxwiz_channel::tls::parse_endpoint(&self.node.advertise).is_err() {
            return bad(format!(
                "node.advertise must be https://host:port, got {:?}",
                self.node.advertise
            ));
        }
        if self.jobs.progress_every == 0 || self.jobs.anchor_every == 0 {
            return bad("jobs.progress_every and jobs.anchor_every must be positive".into());
        }
        if self.jobs.max_chunk_bytes == 0
            || self.jobs.max_chunk_bytes > cyxwiz_channel::limits::CHUNK_BYTES as u64
        {
            return bad(format!(
                "jobs.max_chunk_bytes must be 1..={}",
                cyxwiz_channel::limits::CHUNK_BYTES
            ));
        }
        if self.jobs.upload_timeout_secs == 0 || self.jobs.upload_idle_secs == 0 {
            return bad(
                "jobs.upload_timeout_secs and jobs.upload_idle_secs must be positive".into(),
            );
        }
        if self.jobs.max_call_secs == 0 || self.jobs.max_memory_mb == 0 {
            return bad("jobs.max_call_secs and jobs.max_memory_mb must be positive".into());
        }
        if !matches!(self.jobs.prover.as_str(), "groth16" | "none") {
            return bad(format!(
                "jobs.prover must be groth16 or none, got {:?}",
                self.jobs.prover
            ));
        }
        self.chain.validate().map_err(ConfigError::Invalid)?;
        self.coordinator.validate().map_err(ConfigError::Invalid)?;
        if self.network.enabled {
            self.network.mesh_config()?;
        }
        Ok(())
    }

    pub fn coordinator_timeout(&self) -> Duration {
        self.coordinator.timeout()
    }

    pub fn sandbox_limits(&self) -> cyxwiz_sandbox::Limits {
        cyxwiz_sandbox::Limits {
            max_module_bytes: self.jobs.max_module_bytes as usize,
            max_memory_bytes: (self.jobs.max_memory_mb * 1024 * 1024) as usize,
            fuel_per_call: self.jobs.fuel_per_call,
            max_call_time: Duration::from_secs(self.jobs.max_call_secs),
        }
    }

    /// Cores offered: configured or detected.
    pub fn cpu_cores(&self) -> u32 {
        if self.node.cpu_cores > 0 {
            return self.node.cpu_cores;
        }
        std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1)
    }

    /// RAM offered: configured or the machine's total.
    pub fn ram_mb(&self) -> u32 {
        if self.node.ram_mb > 0 {
            return self.node.ram_mb;
        }
        std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("MemTotal:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kb| kb.parse::<u64>().ok())
            })
            .map(|kb| (kb / 1024) as u32)
            .unwrap_or(1_024)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_follow_the_spec() {
        let cfg = Config::load(None, []).unwrap();
        assert_eq!(cfg.jobs.progress_every, 10);
        assert_eq!(cfg.jobs.anchor_every, 50);
        assert_eq!(cfg.node.capacity, 2);
        assert!(cfg.node.keypair.ends_with(".cyxwiz/node/keypair.json"));
    }

    #[test]
    fn file_env_and_errors_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "[node]\ncapacity = 3\nadvertise = \"https://10.0.0.2:7443\"\n[jobs]\nanchor_every = 20\n[engine]\nkeypair = \"x\"\n",
        )
        .unwrap();
        let cfg = Config::load(
            Some(&path),
            [("CYXWIZ_JOBS_ANCHOR_EVERY".to_string(), "25".to_string())],
        )
        .unwrap();
        assert_eq!(cfg.node.capacity, 3);
        assert_eq!(cfg.jobs.anchor_every, 25, "the environment wins");

        let err = Config::load(None, [("CYXWIZ_NODE_CAPACTY".into(), "3".into())]).unwrap_err();
        assert!(err.to_string().contains("capacty"), "{err}");
        let err = Config::load(None, [("CYXWIZ_NODE_CAPACITY".into(), "0".into())]).unwrap_err();
        assert!(err.to_string().contains("node.capacity"), "{err}");
        let err =
            Config::load(None, [("CYXWIZ_NODE_ADVERTISE".into(), "10.0.0.1".into())]).unwrap_err();
        assert!(err.to_string().contains("node.advertise"), "{err}");
        let err =
            Config::load(None, [("CYXWIZ_JOBS_PROVER".into(), "trust-me".into())]).unwrap_err();
        assert!(err.to_string().contains("jobs.prover"), "{err}");
    }

    #[test]
    fn network_section_maps_to_the_mesh_config() {
        let cfg = Config::load(None, []).unwrap();
        assert!(cfg.network.enabled);
        assert!(
            !cfg.network.mdns,
            "mDNS is off unless the localnet turns it on"
        );
        let mesh = cfg.network.mesh_config().unwrap();
        assert_eq!(mesh.max_peers, 50);
        assert_eq!(mesh.discovery_interval, Duration::from_secs(30));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "[network]\nmax_peers = 12\ndiscovery_interval = 5\nlisten = [\"/ip4/127.0.0.1/tcp/0\"]\n",
        )
        .unwrap();
        let peer = "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN";
        let cfg = Config::load(
            Some(&path),
            [
                ("CYXWIZ_NETWORK_MDNS".to_string(), "true".to_string()),
                (
                    "CYXWIZ_NETWORK_BOOTSTRAP".to_string(),
                    format!("[\"/ip4/127.0.0.1/tcp/4001/p2p/{peer}\"]"),
                ),
            ],
        )
        .unwrap();
        let mesh = cfg.network.mesh_config().unwrap();
        assert_eq!(mesh.max_peers, 12);
        assert_eq!(mesh.discovery_interval, Duration::from_secs(5));
        assert!(mesh.mdns, "the environment turns mDNS on");
        assert_eq!(mesh.bootstrap.len(), 1);
        assert_eq!(mesh.listen[0].to_string(), "/ip4/127.0.0.1/tcp/0");
    }

    #[test]
    fn bad_network_settings_are_named() {
        let err = |k: &str, v: &str| {
            Config::load(None, [(k.to_string(), v.to_string())])
                .unwrap_err()
                .to_string()
        };
        let e = err("CYXWIZ_NETWORK_BOOTSTRAP", "[\"/ip4/127.0.0.1/tcp/4001\"]");
        assert!(
            e.contains("network.bootstrap") && e.contains("/p2p/"),
            "{e}"
        );
        let e = err("CYXWIZ_NETWORK_LISTEN", "[\"127.0.0.1:4001\"]");
        assert!(e.contains("network.listen"), "{e}");
        let e = err("CYXWIZ_NETWORK_MAX_PEERS", "0");
        assert!(e.contains("max_peers"), "{e}");
        let e = err("CYXWIZ_NETWORK_ANNOUNCE_INTERVAL", "999999");
        assert!(e.contains("announce_interval"), "{e}");
        let e = err("CYXWIZ_NETWORK_CAPABILITIES", "[\"GPU\"]");
        assert!(e.contains("network.capabilities"), "{e}");
        // A disabled mesh is not checked.
        let cfg = Config::load(
            None,
            [
                ("CYXWIZ_NETWORK_ENABLED".to_string(), "false".to_string()),
                ("CYXWIZ_NETWORK_MAX_PEERS".to_string(), "0".to_string()),
            ],
        )
        .unwrap();
        assert!(!cfg.network.enabled);
    }
}
