//! Keypairs in the Solana CLI's JSON format (a JSON array of the 64 secret+public bytes).

use solana_keypair::Keypair;

use crate::DeployError;

/// Parses a Solana CLI keypair file's contents.
pub fn keypair_from_json(path_for_errors: &str, json: &str) -> Result<Keypair, DeployError> {
    let err = |reason: String| DeployError::Keypair {
        path: path_for_errors.to_string(),
        reason,
    };
    let bytes: Vec<u8> = serde_json::from_str(json).map_err(|e| err(e.to_string()))?;
    Keypair::try_from(bytes.as_slice()).map_err(|e| err(e.to_string()))
}

/// Reads a Solana CLI keypair file.
pub fn read_keypair(path: &str) -> Result<Keypair, DeployError> {
    let json = std::fs::read_to_string(path).map_err(|e| DeployError::Keypair {
        path: path.to_string(),
        reason: e.to_string(),
    })?;
    keypair_from_json(path, &json)
}

/// The localnet deployer (`cyxwiz_common::ids::DEPLOYER`). Its secret is public on
/// purpose: it only ever controls local test chains.
pub fn localnet_deployer() -> Keypair {
    keypair_from_json(
        "deploy/keys/localnet/deployer-keypair.json",
        include_str!("../keys/localnet/deployer-keypair.json"),
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
        assert!(matches!(
            keypair_from_json("x", "[1,2,3]"),
            Err(DeployError::Keypair { .. })
        ));
        assert!(matches!(
            keypair_from_json("x", "not json"),
            Err(DeployError::Keypair { .. })
        ));
    }
}
