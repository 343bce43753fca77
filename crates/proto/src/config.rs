//! Layered configuration shared by the coordinator, node-agent and engine-client: a TOML
//! file, overridden by `CYXWIZ_<SECTION>_<KEY>` environment variables, which the
//! binaries then override with flags. Each program names the sections it owns, so one
//! `~/.cyxwiz/config.toml` can hold the node's and the CLI's sections side by side.

use std::path::{Path, PathBuf};

/// The environment prefix of every override.
pub const ENV_PREFIX: &str = "CYXWIZ_";

#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error("[{0}] is not a table")]
    NotATable(String),
}

/// The table in `path` (if given) with the `CYXWIZ_<SECTION>_<KEY>` variables of `env`
/// whose section is one of `sections` applied on top, and the top-level tables not in
/// `sections` removed (they belong to other programs). A variable's value is read as a
/// TOML value when it parses as one (numbers, booleans, arrays), else as a string.
pub fn layered_table(
    path: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
    sections: &[&str],
) -> Result<toml::Table, LayerError> {
    let mut table = match path {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|source| LayerError::Read {
                path: p.to_path_buf(),
                source,
            })?;
            text.parse::<toml::Table>().map_err(|e| LayerError::Parse {
                path: p.to_path_buf(),
                reason: e.to_string(),
            })?
        }
        None => toml::Table::new(),
    };
    table.retain(|k, _| sections.contains(&k));
    for (name, value) in env {
        let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let rest = rest.to_ascii_lowercase();
        // Longest section name first, so `jobs` and a hypothetical `jobs_x` never clash.
        let Some((section, key)) = sections
            .iter()
            .filter_map(|s| {
                rest.strip_prefix(s)
                    .and_then(|k| k.strip_prefix('_'))
                    .map(|k| (*s, k))
            })
            .max_by_key(|(s, _)| s.len())
        else {
            continue;
        };
        if key.is_empty() {
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
            _ => return Err(LayerError::NotATable(section.to_string())),
        }
    }
    Ok(table)
}

/// `[chain]`: the Solana RPC node, read by the node agent and the engine client alike.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChainSection {
    pub rpc_url: String,
    /// processed, confirmed or finalized.
    pub commitment: String,
}

impl Default for ChainSection {
    fn default() -> Self {
        ChainSection {
            rpc_url: "http://127.0.0.1:8899".into(),
            commitment: "confirmed".into(),
        }
    }
}

/// A commitment level by its name (`processed`, `confirmed`, `finalized`); the message
/// names the bad value. Shared by every program's `[chain]` section.
pub fn parse_commitment(name: &str) -> Result<solana_commitment_config::CommitmentConfig, String> {
    use solana_commitment_config::CommitmentConfig;
    match name {
        "processed" => Ok(CommitmentConfig::processed()),
        "confirmed" => Ok(CommitmentConfig::confirmed()),
        "finalized" => Ok(CommitmentConfig::finalized()),
        other => Err(format!(
            "[chain] commitment {other:?}: expected processed, confirmed or finalized"
        )),
    }
}

impl ChainSection {
    /// The commitment level, or a message naming the bad value.
    pub fn commitment(&self) -> Result<solana_commitment_config::CommitmentConfig, String> {
        parse_commitment(&self.commitment)
    }

    /// Everything wrong with the section, as one message.
    pub fn validate(&self) -> Result<(), String> {
        require_http_url("[chain] rpc_url", &self.rpc_url)?;
        self.commitment().map(|_| ())
    }
}

/// `[coordinator]`: the coordinator's gRPC endpoint, for the node agent and the engine
/// client alike.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CoordinatorSection {
    pub url: String,
    /// One coordinator call.
    pub timeout_ms: u64,
}

impl Default for CoordinatorSection {
    fn default() -> Self {
        CoordinatorSection {
            url: "http://127.0.0.1:50051".into(),
            timeout_ms: 10_000,
        }
    }
}

impl CoordinatorSection {
    /// The bound of one call; never below 100 ms, which no real round trip beats.
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.timeout_ms.max(100))
    }

    pub fn validate(&self) -> Result<(), String> {
        require_http_url("[coordinator] url", &self.url)
    }
}

fn require_http_url(name: &str, url: &str) -> Result<(), String> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err(format!("{name} {url:?} is not an http(s) URL"))
    }
}

/// `~/.cyxwiz`, or `./.cyxwiz` when there is no home directory.
pub fn home_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cyxwiz"))
        .unwrap_or_else(|| PathBuf::from(".cyxwiz"))
}

/// Expands a leading `~/` to the home directory.
pub fn expand_home(path: &Path) -> PathBuf {
    match (path.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_file_and_foreign_sections_are_dropped() {
        let dir = std::env::temp_dir().join(format!("cyxwiz-layer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.toml");
        std::fs::write(
            &path,
            "[node]\ncapacity = 2\nregion = \"eu\"\n[transport]\nlora = true\n",
        )
        .unwrap();
        let t = layered_table(
            Some(&path),
            [
                ("CYXWIZ_NODE_CAPACITY".to_string(), "4".to_string()),
                ("CYXWIZ_CHAIN_RPC_URL".to_string(), "http://x:1".to_string()),
                ("CYXWIZ_OTHER_KEY".to_string(), "1".to_string()),
                ("PATH".to_string(), "/bin".to_string()),
            ],
            &["node", "chain"],
        )
        .unwrap();
        assert_eq!(t["node"]["capacity"].as_integer(), Some(4));
        assert_eq!(t["node"]["region"].as_str(), Some("eu"));
        assert_eq!(t["chain"]["rpc_url"].as_str(), Some("http://x:1"));
        assert!(!t.contains_key("transport") && !t.contains_key("other"));
        std::fs::write(&path, "[node\n").unwrap();
        assert!(matches!(
            layered_table(Some(&path), [], &["node"]),
            Err(LayerError::Parse { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn shared_sections_default_and_validate() {
        let chain = ChainSection::default();
        assert!(chain.validate().is_ok());
        assert_eq!(
            chain.commitment().unwrap(),
            solana_commitment_config::CommitmentConfig::confirmed()
        );
        let bad = ChainSection {
            commitment: "max".into(),
            ..ChainSection::default()
        };
        assert!(bad.validate().unwrap_err().contains("\"max\""));
        let bad = ChainSection {
            rpc_url: "127.0.0.1:8899".into(),
            ..ChainSection::default()
        };
        assert!(bad.validate().unwrap_err().contains("rpc_url"));
        let c = CoordinatorSection {
            timeout_ms: 0,
            ..CoordinatorSection::default()
        };
        assert_eq!(c.timeout(), std::time::Duration::from_millis(100));
        assert!(
            CoordinatorSection {
                url: "grpc://x".into(),
                ..c
            }
            .validate()
            .is_err()
        );
        let t: toml::Table = "[chain]\nrpc_url = \"http://x:1\"\n".parse().unwrap();
        let parsed: ChainSection = t["chain"].clone().try_into().unwrap();
        assert_eq!(parsed.commitment, "confirmed");
        let t: toml::Table = "[chain]\nrpc = 1\n".parse().unwrap();
        assert!(t["chain"].clone().try_into::<ChainSection>().is_err());
    }

    #[test]
    fn home_expansion() {
        if let Some(home) = std::env::var_os("HOME") {
            assert_eq!(
                expand_home(Path::new("~/a/b")),
                PathBuf::from(home).join("a/b")
            );
        }
        assert_eq!(expand_home(Path::new("/x/y")), PathBuf::from("/x/y"));
    }
}
