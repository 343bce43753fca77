//! Staked announcements: the signed, versioned, size-bounded record every node publishes
//! in Kademlia (keyed by its node id) and on the announcement gossip topic, and sends to
//! each peer it joins (seed 000: "peer discovery protocol (announce/ack/…)").
//!
//! Wire format, version 1 (all integers big-endian, every length bounded):
//!
//! ```text
//! magic "CYXA" | version u8 = 1 | node type u8 | node id [32] | seq u64 | issued_at u64
//! | ttl_secs u32 | tier u8 (0xff = none) | region: len u8, bytes
//! | capabilities: count u8, (len u8, bytes)* | onion key epoch u64
//! | onion keys: count u8, [32]* | addresses: count u8, (len u16, multiaddr bytes)*
//! | signature [64]
//! ```
//!
//! The signature is ed25519 by the node key over [`SIGNING_DOMAIN`] ‖ everything before
//! it. The encoding is canonical (capabilities sorted and unique, text in a small ASCII
//! set, no trailing bytes), so one announcement has exactly one byte string and a
//! decoded record re-encodes to the bytes that were signed. The decoder never trusts a
//! length before checking it against what is left and against the field's maximum.

use libp2p::Multiaddr;

use crate::identity::{self, NodeId, NodeKey};

/// Domain separation for announcement signatures (see [`crate::identity`] on why every
/// signature with the node key carries a distinct prefix).
pub const SIGNING_DOMAIN: &[u8] = b"cyxwiz-mesh-announce-v1\0";
pub const MAGIC: [u8; 4] = *b"CYXA";
pub const VERSION: u8 = 1;
/// No encoded announcement is larger; anything bigger is dropped unread.
pub const MAX_RECORD_BYTES: usize = 2_048;
pub const MAX_CAPABILITIES: usize = 16;
pub const MAX_CAPABILITY_LEN: usize = 32;
pub const MAX_REGION_LEN: usize = 32;
/// Current, next and previous onion keys, and one spare for a rotation in flight (seed
/// 003: onion keypairs are refreshed hourly, so a receiver may see two epochs at once).
pub const MAX_ONION_KEYS: usize = 4;
pub const MAX_ADDRESSES: usize = 8;
pub const MAX_ADDRESS_LEN: usize = 128;
/// A record lives at most a day; nodes republish well before their TTL runs out.
pub const MAX_TTL_SECS: u32 = 86_400;
/// NodeRegistry's `stake_tiers` has four rows (programs/node-registry `RegistryParams`).
pub const NUM_TIERS: u8 = 4;
pub const SIGNATURE_LEN: usize = 64;
const NO_TIER: u8 = 0xff;

// The largest valid announcement must fit the record bound.
const _: () = assert!(
    4 + 1
        + 1
        + 32
        + 8
        + 8
        + 4
        + 1
        + (1 + MAX_REGION_LEN)
        + (1 + MAX_CAPABILITIES * (1 + MAX_CAPABILITY_LEN))
        + (8 + 1 + MAX_ONION_KEYS * 32)
        + (1 + MAX_ADDRESSES * (2 + MAX_ADDRESS_LEN))
        + SIGNATURE_LEN
        <= MAX_RECORD_BYTES
);

/// The seed's node types (seed 000, "Node Types").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeType {
    /// Routes traffic; may be unstaked (then rate-limited).
    Relay,
    /// Executes jobs; stake required.
    Compute,
    /// Stores shards; stake required.
    Storage,
    /// Verifies work; stake required.
    Validator,
}

impl NodeType {
    fn to_byte(self) -> u8 {
        match self {
            NodeType::Relay => 0,
            NodeType::Compute => 1,
            NodeType::Storage => 2,
            NodeType::Validator => 3,
        }
    }

    fn from_byte(b: u8) -> Result<Self, RecordError> {
        Ok(match b {
            0 => NodeType::Relay,
            1 => NodeType::Compute,
            2 => NodeType::Storage,
            3 => NodeType::Validator,
            other => return Err(RecordError::UnknownNodeType(other)),
        })
    }

    /// Whether a receiver must find the node staked on chain before admitting it.
    pub fn requires_stake(self) -> bool {
        self != NodeType::Relay
    }

    pub fn as_str(self) -> &'static str {
        match self {
            NodeType::Relay => "relay",
            NodeType::Compute => "compute",
            NodeType::Storage => "storage",
            NodeType::Validator => "validator",
        }
    }
}

impl std::fmt::Display for NodeType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The node's current onion public keys (X25519, opaque here) and their key epoch.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct OnionKeys {
    pub epoch: u64,
    #[serde(serialize_with = "hex_keys")]
    pub keys: Vec<[u8; 32]>,
}

fn hex_keys<S: serde::Serializer>(keys: &[[u8; 32]], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(keys.iter().map(hex::encode))
}

/// What a node says about itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Announcement {
    pub node_id: NodeId,
    pub node_type: NodeType,
    /// The stake tier claimed (index into NodeRegistry's `stake_tiers`), `None` for an
    /// unstaked relay. A receiver admits the record only if the chain gives the node at
    /// least this tier.
    pub tier: Option<u8>,
    /// Sorted, unique tokens of `[a-z0-9:._-]` (e.g. `wasm`, `gpu`, `cpu:8`).
    pub capabilities: Vec<String>,
    pub region: String,
    pub onion: OnionKeys,
    pub addresses: Vec<Multiaddr>,
    /// Unix seconds at signing.
    pub issued_at: u64,
    pub ttl_secs: u32,
    /// Strictly increasing per node; a receiver drops a record whose sequence is not
    /// newer than the one it holds (replay).
    pub seq: u64,
}

/// An announcement with its signature, as decoded from the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedAnnouncement {
    pub announcement: Announcement,
    pub signature: [u8; SIGNATURE_LEN],
}

/// Why bytes are not a valid announcement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("record of {len} bytes exceeds {max}")]
    Oversized { len: usize, max: usize },
    #[error("record truncated")]
    Truncated,
    #[error("not an announcement (bad magic)")]
    BadMagic,
    #[error("unsupported record version {0}")]
    UnsupportedVersion(u8),
    #[error("unknown node type {0}")]
    UnknownNodeType(u8),
    #[error("stake tier {0} out of range")]
    BadTier(u8),
    #[error("a {0} must claim a stake tier")]
    MissingTier(NodeType),
    #[error("{field}: {count} entries exceed {max}")]
    TooMany {
        field: &'static str,
        count: usize,
        max: usize,
    },
    #[error("{field}: {len} bytes exceed {max}")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{0}: empty or outside [a-z0-9:._-]")]
    BadText(&'static str),
    #[error("{0}: not sorted and unique")]
    NotCanonical(&'static str),
    #[error("address {0} is not a multiaddr")]
    BadAddress(usize),
    #[error("ttl {0} s outside 1..={MAX_TTL_SECS}")]
    BadTtl(u32),
    #[error("{0} trailing bytes")]
    TrailingBytes(usize),
    #[error("signature does not verify")]
    BadSignature,
    #[error("signing key does not match the announced node id")]
    WrongSigner,
}

fn check_text(
    field: &'static str,
    s: &str,
    max: usize,
    allow_empty: bool,
) -> Result<(), RecordError> {
    if s.len() > max {
        return Err(RecordError::TooLong {
            field,
            len: s.len(),
            max,
        });
    }
    let ok_char = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit() || b":._-".contains(&c);
    if (!allow_empty && s.is_empty()) || !s.bytes().all(ok_char) {
        return Err(RecordError::BadText(field));
    }
    Ok(())
}

impl Announcement {
    /// Checks every bound and the canonical form; [`Announcement::sign`] and the decoder
    /// both run it, so nothing invalid is ever signed or admitted.
    pub fn validate(&self) -> Result<(), RecordError> {
        match self.tier {
            Some(t) if t >= NUM_TIERS => return Err(RecordError::BadTier(t)),
            None if self.node_type.requires_stake() => {
                return Err(RecordError::MissingTier(self.node_type));
            }
            _ => {}
        }
        check_text("region", &self.region, MAX_REGION_LEN, true)?;
        if self.capabilities.len() > MAX_CAPABILITIES {
            return Err(RecordError::TooMany {
                field: "capabilities",
                count: self.capabilities.len(),
                max: MAX_CAPABILITIES,
            });
        }
        for c in &self.capabilities {
            check_text("capability", c, MAX_CAPABILITY_LEN, false)?;
        }
        if !self.capabilities.windows(2).all(|w| w[0] < w[1]) {
            return Err(RecordError::NotCanonical("capabilities"));
        }
        if self.onion.keys.len() > MAX_ONION_KEYS {
            return Err(RecordError::TooMany {
                field: "onion keys",
                count: self.onion.keys.len(),
                max: MAX_ONION_KEYS,
            });
        }
        if self.addresses.len() > MAX_ADDRESSES {
            return Err(RecordError::TooMany {
                field: "addresses",
                count: self.addresses.len(),
                max: MAX_ADDRESSES,
            });
        }
        for a in &self.addresses {
            let len = a.as_ref().len();
            if len > MAX_ADDRESS_LEN {
                return Err(RecordError::TooLong {
                    field: "address",
                    len,
                    max: MAX_ADDRESS_LEN,
                });
            }
        }
        if self.ttl_secs == 0 || self.ttl_secs > MAX_TTL_SECS {
            return Err(RecordError::BadTtl(self.ttl_secs));
        }
        Ok(())
    }

    /// The signed body: everything up to the signature.
    fn body(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        out.push(self.node_type.to_byte());
        out.extend_from_slice(self.node_id.as_bytes());
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.issued_at.to_be_bytes());
        out.extend_from_slice(&self.ttl_secs.to_be_bytes());
        out.push(self.tier.unwrap_or(NO_TIER));
        // Lengths below were bounded by `validate`, so the casts cannot truncate.
        out.push(self.region.len() as u8);
        out.extend_from_slice(self.region.as_bytes());
        out.push(self.capabilities.len() as u8);
        for c in &self.capabilities {
            out.push(c.len() as u8);
            out.extend_from_slice(c.as_bytes());
        }
        out.extend_from_slice(&self.onion.epoch.to_be_bytes());
        out.push(self.onion.keys.len() as u8);
        for k in &self.onion.keys {
            out.extend_from_slice(k);
        }
        out.push(self.addresses.len() as u8);
        for a in &self.addresses {
            let bytes = a.as_ref();
            out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
            out.extend_from_slice(bytes);
        }
        out
    }

    /// Signs with `key`, which must be the announced node's key.
    pub fn sign(self, key: &NodeKey) -> Result<SignedAnnouncement, RecordError> {
        self.validate()?;
        if key.node_id() != self.node_id {
            return Err(RecordError::WrongSigner);
        }
        let signature = key.sign(&signing_message(&self.body()));
        Ok(SignedAnnouncement {
            announcement: self,
            signature,
        })
    }

    /// Unix second after which the record is stale.
    pub fn expires_at(&self) -> u64 {
        self.issued_at.saturating_add(u64::from(self.ttl_secs))
    }
}

fn signing_message(body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNING_DOMAIN.len() + body.len());
    m.extend_from_slice(SIGNING_DOMAIN);
    m.extend_from_slice(body);
    m
}

impl SignedAnnouncement {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.announcement.body();
        out.extend_from_slice(&self.signature);
        out
    }

    /// Strictly decodes `bytes` and verifies the signature. Never panics.
    pub fn decode(bytes: &[u8]) -> Result<Self, RecordError> {
        if bytes.len() > MAX_RECORD_BYTES {
            return Err(RecordError::Oversized {
                len: bytes.len(),
                max: MAX_RECORD_BYTES,
            });
        }
        let mut r = Reader { buf: bytes };
        if r.take(4)? != MAGIC {
            return Err(RecordError::BadMagic);
        }
        let version = r.u8()?;
        if version != VERSION {
            return Err(RecordError::UnsupportedVersion(version));
        }
        let node_type = NodeType::from_byte(r.u8()?)?;
        let node_id = NodeId(r.array()?);
        let seq = r.u64()?;
        let issued_at = r.u64()?;
        let ttl_secs = r.u32()?;
        let tier = match r.u8()? {
            NO_TIER => None,
            t => Some(t),
        };
        let region = r.text("region", MAX_REGION_LEN)?;
        let n_caps = r.count("capabilities", MAX_CAPABILITIES)?;
        let mut capabilities = Vec::with_capacity(n_caps);
        for _ in 0..n_caps {
            capabilities.push(r.text("capability", MAX_CAPABILITY_LEN)?);
        }
        let epoch = r.u64()?;
        let n_keys = r.count("onion keys", MAX_ONION_KEYS)?;
        let mut keys = Vec::with_capacity(n_keys);
        for _ in 0..n_keys {
            keys.push(r.array()?);
        }
        let n_addrs = r.count("addresses", MAX_ADDRESSES)?;
        let mut addresses = Vec::with_capacity(n_addrs);
        for i in 0..n_addrs {
            let len = usize::from(u16::from_be_bytes(r.array()?));
            if len > MAX_ADDRESS_LEN {
                return Err(RecordError::TooLong {
                    field: "address",
                    len,
                    max: MAX_ADDRESS_LEN,
                });
            }
            let raw = r.take(len)?;
            let addr = Multiaddr::try_from(raw.to_vec()).map_err(|_| RecordError::BadAddress(i))?;
            // Multiaddr parsing is lenient about some encodings; demand the exact bytes.
            if addr.as_ref() != raw {
                return Err(RecordError::BadAddress(i));
            }
            addresses.push(addr);
        }
        let body_len = bytes.len() - r.buf.len();
        let signature: [u8; SIGNATURE_LEN] = r.array()?;
        if !r.buf.is_empty() {
            return Err(RecordError::TrailingBytes(r.buf.len()));
        }
        let announcement = Announcement {
            node_id,
            node_type,
            tier,
            capabilities,
            region,
            onion: OnionKeys { epoch, keys },
            addresses,
            issued_at,
            ttl_secs,
            seq,
        };
        announcement.validate()?;
        // Canonical: the parsed fields re-encode to exactly the bytes that were signed.
        let body = &bytes[..body_len];
        if announcement.body() != body {
            return Err(RecordError::NotCanonical("record"));
        }
        if !identity::verify(&node_id, &signing_message(body), &signature) {
            return Err(RecordError::BadSignature);
        }
        Ok(SignedAnnouncement {
            announcement,
            signature,
        })
    }
}

/// A cursor over untrusted bytes: every read checks what is left first.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], RecordError> {
        if self.buf.len() < n {
            return Err(RecordError::Truncated);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], RecordError> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8, RecordError> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32, RecordError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, RecordError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    fn count(&mut self, field: &'static str, max: usize) -> Result<usize, RecordError> {
        let count = usize::from(self.u8()?);
        if count > max {
            return Err(RecordError::TooMany { field, count, max });
        }
        Ok(count)
    }

    fn text(&mut self, field: &'static str, max: usize) -> Result<String, RecordError> {
        let len = usize::from(self.u8()?);
        if len > max {
            return Err(RecordError::TooLong { field, len, max });
        }
        let raw = self.take(len)?;
        // Only ASCII passes `validate`, so a lossy conversion never changes valid text.
        Ok(String::from_utf8_lossy(raw).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(key: &NodeKey) -> Announcement {
        Announcement {
            node_id: key.node_id(),
            node_type: NodeType::Compute,
            tier: Some(1),
            capabilities: vec!["cpu:8".into(), "wasm".into()],
            region: "eu-west".into(),
            onion: OnionKeys {
                epoch: 7,
                keys: vec![[9; 32]],
            },
            addresses: vec!["/ip4/10.0.0.1/tcp/4001".parse().unwrap()],
            issued_at: 1_700_000_000,
            ttl_secs: 3_600,
            seq: 42,
        }
    }

    #[test]
    fn encodes_and_decodes_a_signed_announcement() {
        let key = NodeKey::generate();
        let signed = sample(&key).sign(&key).unwrap();
        let bytes = signed.encode();
        assert_eq!(SignedAnnouncement::decode(&bytes).unwrap(), signed);
    }

    #[test]
    fn rejects_a_flipped_bit_anywhere_before_the_signature() {
        let key = NodeKey::generate();
        let bytes = sample(&key).sign(&key).unwrap().encode();
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x01;
            assert!(SignedAnnouncement::decode(&b).is_err(), "byte {i}");
        }
    }

    #[test]
    fn forged_signature_is_a_bad_signature() {
        let key = NodeKey::generate();
        let mut signed = sample(&key).sign(&key).unwrap();
        signed.signature[0] ^= 0xff;
        assert_eq!(
            SignedAnnouncement::decode(&signed.encode()),
            Err(RecordError::BadSignature)
        );
        // Signed by another key but claiming this node id.
        let other = NodeKey::generate();
        assert_eq!(sample(&key).sign(&other), Err(RecordError::WrongSigner));
    }

    #[test]
    fn enforces_bounds_and_canonical_form() {
        let key = NodeKey::generate();
        let mut a = sample(&key);
        a.capabilities = vec!["wasm".into(), "cpu".into()];
        assert_eq!(a.sign(&key), Err(RecordError::NotCanonical("capabilities")));
        let mut a = sample(&key);
        a.tier = None;
        assert_eq!(
            a.sign(&key),
            Err(RecordError::MissingTier(NodeType::Compute))
        );
        let mut a = sample(&key);
        a.tier = Some(NUM_TIERS);
        assert_eq!(a.sign(&key), Err(RecordError::BadTier(NUM_TIERS)));
        let mut a = sample(&key);
        a.region = "Upper".into();
        assert_eq!(a.sign(&key), Err(RecordError::BadText("region")));
        let mut a = sample(&key);
        a.ttl_secs = MAX_TTL_SECS + 1;
        assert_eq!(a.sign(&key), Err(RecordError::BadTtl(MAX_TTL_SECS + 1)));
        let big = vec![0u8; MAX_RECORD_BYTES + 1];
        assert!(matches!(
            SignedAnnouncement::decode(&big),
            Err(RecordError::Oversized { .. })
        ));
        let mut bytes = sample(&key).sign(&key).unwrap().encode();
        bytes.push(0);
        assert_eq!(
            SignedAnnouncement::decode(&bytes),
            Err(RecordError::TrailingBytes(1))
        );
    }
}
