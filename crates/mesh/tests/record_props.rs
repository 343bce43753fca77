//! Property tests of the announcement codec: the decoder never panics on arbitrary
//! bytes, valid announcements round-trip, and any change to a signed record is caught.

use cyxwiz_mesh::{
    Announcement, NodeKey, NodeType, OnionKeys, SignedAnnouncement,
    record::{self, MAX_RECORD_BYTES},
};
use libp2p::Multiaddr;
use proptest::prelude::*;

fn token() -> impl Strategy<Value = String> {
    "[a-z0-9:._-]{1,32}"
}

fn address() -> impl Strategy<Value = Multiaddr> {
    (any::<[u8; 4]>(), any::<u16>(), any::<bool>()).prop_map(|(ip, port, quic)| {
        let s = if quic {
            format!(
                "/ip4/{}.{}.{}.{}/udp/{port}/quic-v1",
                ip[0], ip[1], ip[2], ip[3]
            )
        } else {
            format!("/ip4/{}.{}.{}.{}/tcp/{port}", ip[0], ip[1], ip[2], ip[3])
        };
        s.parse().unwrap()
    })
}

fn node_type() -> impl Strategy<Value = NodeType> {
    prop_oneof![
        Just(NodeType::Relay),
        Just(NodeType::Compute),
        Just(NodeType::Storage),
        Just(NodeType::Validator),
    ]
}

prop_compose! {
    fn announcement(key: NodeKey)(
        node_type in node_type(),
        tier in 0u8..record::NUM_TIERS,
        relay_untiered in any::<bool>(),
        caps in proptest::collection::btree_set(token(), 0..=record::MAX_CAPABILITIES),
        region in "[a-z0-9-]{0,32}",
        epoch in any::<u64>(),
        keys in proptest::collection::vec(any::<[u8; 32]>(), 0..=record::MAX_ONION_KEYS),
        addresses in proptest::collection::vec(address(), 0..=record::MAX_ADDRESSES),
        issued_at in any::<u64>(),
        ttl in 1u32..=record::MAX_TTL_SECS,
        seq in any::<u64>(),
    ) -> Announcement {
        let tier = if node_type == NodeType::Relay && relay_untiered { None } else { Some(tier) };
        Announcement {
            node_id: key.node_id(),
            node_type,
            tier,
            capabilities: caps.into_iter().collect(),
            region,
            onion: OnionKeys { epoch, keys },
            addresses,
            issued_at,
            ttl_secs: ttl,
            seq,
        }
    }
}

fn key() -> NodeKey {
    // One key for the whole run: key generation is not what is under test.
    static KEY: std::sync::OnceLock<NodeKey> = std::sync::OnceLock::new();
    KEY.get_or_init(NodeKey::generate).clone()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..3_000)) {
        if let Ok(s) = SignedAnnouncement::decode(&bytes) {
            // Anything accepted is canonical: it re-encodes to the same bytes.
            prop_assert_eq!(s.encode(), bytes);
        }
    }

    #[test]
    fn decoding_bytes_with_a_valid_header_never_panics(tail in proptest::collection::vec(any::<u8>(), 0..2_100)) {
        let mut bytes = b"CYXA\x01".to_vec();
        bytes.extend(tail);
        let _ = SignedAnnouncement::decode(&bytes);
    }

    #[test]
    fn signed_announcements_roundtrip_within_the_size_bound(a in announcement(key())) {
        let signed = a.clone().sign(&key()).unwrap();
        let bytes = signed.encode();
        prop_assert!(bytes.len() <= MAX_RECORD_BYTES);
        let back = SignedAnnouncement::decode(&bytes).unwrap();
        prop_assert_eq!(back.announcement, a);
    }

    #[test]
    fn any_changed_byte_or_truncation_is_rejected(
        a in announcement(key()),
        pos in any::<prop::sample::Index>(),
        flip in 1u8..=255,
        cut in any::<prop::sample::Index>(),
    ) {
        let bytes = a.sign(&key()).unwrap().encode();
        let mut changed = bytes.clone();
        let i = pos.index(changed.len());
        changed[i] ^= flip;
        prop_assert!(SignedAnnouncement::decode(&changed).is_err(), "byte {} changed", i);
        let n = cut.index(bytes.len());
        prop_assert!(SignedAnnouncement::decode(&bytes[..n]).is_err(), "cut at {}", n);
    }
}
