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
