//! Peer identity bound to the operator's node key.
//!
//! The libp2p identity of a node *is* its operator's Solana ed25519 keypair (decision 110
//! in `docs/decisions.md`): the libp2p keypair is built from the same 64 secret‖public
//! bytes the Solana CLI keypair file holds, so the [`PeerId`] is the identity multihash
//! of that public key. Any receiver turns a peer id back into the 32-byte Solana public
//! key ([`node_id_of`]), derives the NodeRegistry PDA from it and checks the stake,
//! with no binding certificate to fetch, forge or let expire. The noise handshake proves
//! possession of the key on every connection, so a connection from peer `P` *is* the
//! operator of node `P`.
//!
//! Using one key for two protocols is safe here because every libp2p signature is
//! domain separated (`noise-libp2p-static-key:`, `libp2p-pubsub:`, the signed-envelope
//! domain, and our own [`crate::record::SIGNING_DOMAIN`]) and none of those prefixes
//! can parse as a Solana transaction message (its first byte is the number of required
//! signatures, 0x6c–0x6e = 108–110 for the ASCII prefixes, far beyond what fits in a
//! 1,232-byte transaction).

use std::fmt;

use libp2p::{PeerId, identity};
use serde::{Deserialize, Serialize};

/// Errors building or converting identities.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdentityError {
    #[error("a node keypair is 64 bytes (secret ‖ public), got {0}")]
    KeypairLength(usize),
    #[error("the keypair's public half does not match its secret half")]
    KeypairMismatch,
    #[error("{0} is not a valid ed25519 public key")]
    BadPublicKey(String),
    #[error("invalid node id {0:?}: expected 32 bytes in base58")]
    BadNodeId(String),
}

/// A node's id on the mesh: its operator's Solana public key (32 bytes). The
/// NodeRegistry account of the node is the PDA `["node", node_id]`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub [u8; 32]);

impl NodeId {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The libp2p peer id this node must connect with.
    pub fn peer_id(&self) -> Result<PeerId, IdentityError> {
        peer_id_of(self)
    }
}

impl fmt::Display for NodeId {
    /// Base58, as Solana shows public keys, so ids match explorers and the chain CLI.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&bs58::encode(self.0).into_string())
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({self})")
    }
}

impl std::str::FromStr for NodeId {
    type Err = IdentityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = bs58::decode(s)
            .into_vec()
            .map_err(|_| IdentityError::BadNodeId(s.to_string()))?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| IdentityError::BadNodeId(s.to_string()))?;
        Ok(NodeId(arr))
    }
}

impl Serialize for NodeId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for NodeId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The operator's node key as the mesh uses it: signs announcements and is the libp2p
/// identity. Cloning shares nothing mutable; the secret stays inside libp2p's keypair,
/// which zeroes its copy of the input bytes.
#[derive(Clone)]
pub struct NodeKey {
    keypair: identity::Keypair,
    node_id: NodeId,
}

impl fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeKey")
            .field("node_id", &self.node_id)
            .finish_non_exhaustive()
    }
}

impl NodeKey {
    /// From the 64 bytes of a Solana CLI keypair (`Keypair::to_bytes()`: secret ‖ public).
    /// The input is zeroed on success.
    pub fn from_solana_keypair_bytes(bytes: &mut [u8]) -> Result<Self, IdentityError> {
        if bytes.len() != 64 {
            return Err(IdentityError::KeypairLength(bytes.len()));
        }
        let kp = identity::ed25519::Keypair::try_from_bytes(bytes)
            .map_err(|_| IdentityError::KeypairMismatch)?;
        Ok(Self::from_ed25519(kp))
    }

    /// A fresh random key (tests, and unstaked relays that have no wallet).
    pub fn generate() -> Self {
        Self::from_ed25519(identity::ed25519::Keypair::generate())
    }

    fn from_ed25519(kp: identity::ed25519::Keypair) -> Self {
        let node_id = NodeId(kp.public().to_bytes());
        NodeKey {
            keypair: identity::Keypair::from(kp),
            node_id,
        }
    }

    pub fn node_id(&self) -> NodeId {
        self.node_id
    }

    pub fn peer_id(&self) -> PeerId {
        self.keypair.public().to_peer_id()
    }

    /// The libp2p keypair (the same key material).
    pub fn libp2p_keypair(&self) -> &identity::Keypair {
        &self.keypair
    }

    /// An ed25519 signature over `msg`.
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        let sig = self.keypair.sign(msg).expect("ed25519 signing cannot fail");
        sig.try_into().expect("an ed25519 signature is 64 bytes")
    }
}

/// Verifies an ed25519 signature by `node` over `msg`.
pub fn verify(node: &NodeId, msg: &[u8], sig: &[u8; 64]) -> bool {
    identity::ed25519::PublicKey::try_from_bytes(&node.0)
        .map(|pk| pk.verify(msg, sig))
        .unwrap_or(false)
}

/// The peer id of the node whose operator key is `node`.
pub fn peer_id_of(node: &NodeId) -> Result<PeerId, IdentityError> {
    let pk = identity::ed25519::PublicKey::try_from_bytes(&node.0)
        .map_err(|_| IdentityError::BadPublicKey(node.to_string()))?;
    Ok(identity::PublicKey::from(pk).to_peer_id())
}

/// The node id behind `peer`, if the peer id inlines an ed25519 key (it always does for
/// CyxWiz nodes; hashed ids of big RSA keys, or other key types, have none).
pub fn node_id_of(peer: &PeerId) -> Option<NodeId> {
    let mh: &libp2p::multihash::Multihash<64> = peer.as_ref();
    // 0x00 is the identity multihash: the digest is the protobuf-encoded public key.
    if mh.code() != 0 {
        return None;
    }
    let pk = identity::PublicKey::try_decode_protobuf(mh.digest()).ok()?;
    let ed = pk.try_into_ed25519().ok()?;
    Some(NodeId(ed.to_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_id_and_node_id_convert_both_ways() {
        let key = NodeKey::generate();
        assert_eq!(peer_id_of(&key.node_id()).unwrap(), key.peer_id());
        assert_eq!(node_id_of(&key.peer_id()), Some(key.node_id()));
        assert_eq!(node_id_of(&PeerId::random()), None);
    }

    #[test]
    fn solana_keypair_bytes_give_the_same_public_key() {
        let kp = identity::ed25519::Keypair::generate();
        let mut bytes = kp.to_bytes();
        let public = kp.public().to_bytes();
        let key = NodeKey::from_solana_keypair_bytes(&mut bytes).unwrap();
        assert_eq!(key.node_id().0, public);
        assert_eq!(bytes, [0; 64], "input zeroed");
        let mut wrong = kp.to_bytes();
        wrong[40] ^= 1;
        assert_eq!(
            NodeKey::from_solana_keypair_bytes(&mut wrong).unwrap_err(),
            IdentityError::KeypairMismatch
        );
    }

    #[test]
    fn node_id_text_roundtrips() {
        let id = NodeKey::generate().node_id();
        assert_eq!(id.to_string().parse::<NodeId>().unwrap(), id);
        assert!("xyz".parse::<NodeId>().is_err());
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<NodeId>(&json).unwrap(), id);
    }

    #[test]
    fn signatures_verify_only_for_the_signer_and_message() {
        let key = NodeKey::generate();
        let sig = key.sign(b"m");
        assert!(verify(&key.node_id(), b"m", &sig));
        assert!(!verify(&key.node_id(), b"n", &sig));
        assert!(!verify(&NodeKey::generate().node_id(), b"m", &sig));
    }
}
