//! Keypairs in the Solana CLI's JSON format: a JSON array of the 64 secret+public bytes,
//! as `solana-keygen new` writes them, so an operator's existing wallet file just works.

use std::path::Path;

use solana_keypair::Keypair;

use crate::ChainError;

/// Parses a Solana CLI keypair file's contents. `path_for_errors` names it in errors.
pub fn keypair_from_json(path_for_errors: &str, json: &str) -> Result<Keypair, ChainError> {
    let err = |reason: String| ChainError::Keypair {
        path: path_for_errors.to_string(),
        reason,
    };
    let bytes: Vec<u8> = serde_json::from_str(json).map_err(|e| err(e.to_string()))?;
    if bytes.len() != 64 {
        return Err(err(format!("{} bytes, expected 64", bytes.len())));
    }
    Keypair::try_from(bytes.as_slice()).map_err(|e| err(e.to_string()))
}

/// Reads a Solana CLI keypair file.
pub fn read_keypair(path: impl AsRef<Path>) -> Result<Keypair, ChainError> {
    let path = path.as_ref();
    let shown = path.display().to_string();
    let json = std::fs::read_to_string(path).map_err(|e| ChainError::Keypair {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    keypair_from_json(&shown, &json)
}

/// Writes `keypair` as a Solana CLI keypair file, readable only by its owner on Unix.
/// Refuses to overwrite an existing file: a lost wallet key is lost funds.
pub fn write_keypair(path: impl AsRef<Path>, keypair: &Keypair) -> Result<(), ChainError> {
    use std::io::Write;
    let path = path.as_ref();
    let err = |reason: String| ChainError::Keypair {
        path: path.display().to_string(),
        reason,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| err(e.to_string()))?;
    let json =
        serde_json::to_string(&keypair.to_bytes().to_vec()).map_err(|e| err(e.to_string()))?;
    file.write_all(json.as_bytes())
        .map_err(|e| err(e.to_string()))
}

/// The localnet deployer (`cyxwiz_common::ids::DEPLOYER`). Its secret is public on
/// purpose: it only ever controls local test chains.
pub fn localnet_deployer() -> Keypair {
    keypair_from_json(
        "deploy/keys/localnet/deployer-keypair.json",
        include_str!("../../../deploy/keys/localnet/deployer-keypair.json"),
    )
    .expect("committed localnet deployer keypair is valid")
}

#[cfg(test)]
mod tests {
    use super::*;
    use solana_signer::Signer;

    #[test]
    fn localnet_deployer_matches_the_declared_id() {
        assert_eq!(localnet_deployer().pubkey(), cyxwiz_common::ids::DEPLOYER);
    }

    #[test]
    fn malformed_keypair_files_are_clear_errors() {
        for bad in ["[1,2,3]", "not json", "{}"] {
            assert!(matches!(
                keypair_from_json("x", bad),
                Err(ChainError::Keypair { .. })
            ));
        }
    }

    #[test]
    fn written_keypairs_read_back_and_are_never_overwritten() {
        let dir = std::env::temp_dir().join(format!("cyxwiz-keys-{}", std::process::id()));
        let path = dir.join("id.json");
        let _ = std::fs::remove_file(&path);
        let kp = Keypair::new();
        write_keypair(&path, &kp).unwrap();
        assert_eq!(read_keypair(&path).unwrap().pubkey(), kp.pubkey());
        assert!(write_keypair(&path, &Keypair::new()).is_err());
        assert_eq!(read_keypair(&path).unwrap().pubkey(), kp.pubkey());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
