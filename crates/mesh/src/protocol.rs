//! The point-to-point peer protocol `/cyxwiz/peer/1` (request-response over CBOR), the
//! seed's announce/ack and goodbye exchanges (seed 000: "peer discovery protocol
//! (announce/ack/ping/pong/goodbye)"; ping/pong is libp2p's ping protocol, which also
//! gives the RTT shown in the peer table), and a neighbour query for the topology view.
//!
//! Both sides bound message sizes: a request carries at most one announcement
//! ([`crate::record::MAX_RECORD_BYTES`]) and a neighbour list at most
//! [`MAX_NEIGHBOURS`] peer ids.

use libp2p::StreamProtocol;
use serde::{Deserialize, Serialize};

pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/cyxwiz/peer/1");
/// Most neighbours one answer lists.
pub const MAX_NEIGHBOURS: usize = 64;
/// A request is one announcement plus CBOR framing.
pub const MAX_REQUEST_BYTES: u64 = crate::record::MAX_RECORD_BYTES as u64 + 256;
/// 64 peer ids of ≤ 42 bytes plus framing.
pub const MAX_RESPONSE_BYTES: u64 = (MAX_NEIGHBOURS as u64) * 64 + 256;

/// Why a node leaves (informational).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LeaveReason {
    Shutdown,
    Restart,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PeerRequest {
    /// ANNOUNCE: the sender's signed announcement, sent when a connection opens.
    Announce(#[serde(with = "serde_bytes_vec")] Vec<u8>),
    /// GOODBYE: the sender is leaving; drop it now rather than on timeouts.
    Goodbye(LeaveReason),
    /// Who are you connected to?
    Neighbours,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PeerResponse {
    /// ACK of an announcement: whether it was admitted, and if not why.
    Ack {
        accepted: bool,
        reason: Option<String>,
    },
    /// Acknowledges GOODBYE.
    Bye,
    /// Connected peer ids (bytes), at most [`MAX_NEIGHBOURS`].
    Neighbours(Vec<Vec<u8>>),
}

/// Byte strings as CBOR byte strings rather than arrays of integers.
mod serde_bytes_vec {
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Vec<u8>, A::Error> {
                let mut out = Vec::new();
                while let Some(b) = a.next_element::<u8>()? {
                    if out.len() > crate::record::MAX_RECORD_BYTES {
                        return Err(serde::de::Error::custom("too long"));
                    }
                    out.push(b);
                }
                Ok(out)
            }
        }
        d.deserialize_bytes(V)
    }
}
