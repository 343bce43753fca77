//! How a node's job channel is found without the coordinator (decision 151).
//!
//! The coordinator normally hands an engine the node's endpoint and TLS fingerprint.
//! Without it, the engine finds compute nodes on the mesh, whose announcements are
//! signed by the node key (= the operator wallet that NodeRegistry and the escrow name),
//! and carry a handful of capability tokens. The node adds three tokens that locate its
//! channel:
//!
//! * `ch:<port>`: the job channel's TCP port, on the host of the node's mesh address;
//! * `tlsa:<base32>` and `tlsb:<base32>`: the two 16-byte halves of the TLS key's
//!   fingerprint (SHA-256 of the SubjectPublicKeyInfo, what the engine pins), in
//!   lowercase RFC 4648 base32 without padding (26 characters each).
//!
//! The split is forced by the announcement format: capability tokens are at most 32
//! characters of `[a-z0-9:._-]` (crates/mesh `record`), so neither hex (64) nor base58
//! (mixed case) fits. Because the announcement is signed, the fingerprint is as
//! trustworthy as the coordinator's: it is the node's own statement, bound to its key.

/// The capability every compute node announces for the WebAssembly sandbox, and the one
/// engines search for.
pub const WASM_CAPABILITY: &str = "wasm";

const PORT_PREFIX: &str = "ch:";
const FP_A_PREFIX: &str = "tlsa:";
const FP_B_PREFIX: &str = "tlsb:";
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
/// 16 bytes = 128 bits = 26 base32 digits (the last one carries 3 bits).
const HALF_DIGITS: usize = 26;

/// Where an engine reaches a node's job channel, as the node announces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelContact {
    pub port: u16,
    pub fingerprint: [u8; 32],
}

impl ChannelContact {
    /// The capability tokens that announce this contact (each ≤ 32 characters).
    pub fn capabilities(&self) -> Vec<String> {
        let (a, b) = self.fingerprint.split_at(16);
        vec![
            format!("{PORT_PREFIX}{}", self.port),
            format!("{FP_A_PREFIX}{}", base32(a)),
            format!("{FP_B_PREFIX}{}", base32(b)),
        ]
    }

    /// The contact in a node's capability tokens, if all three are there and valid
    /// (other tokens are ignored).
    pub fn from_capabilities<S: AsRef<str>>(caps: &[S]) -> Option<ChannelContact> {
        let find = |prefix: &str| {
            caps.iter()
                .find_map(|c| c.as_ref().strip_prefix(prefix).map(str::to_string))
        };
        let port: u16 = find(PORT_PREFIX)?.parse().ok().filter(|p| *p != 0)?;
        let a = unbase32_16(&find(FP_A_PREFIX)?)?;
        let b = unbase32_16(&find(FP_B_PREFIX)?)?;
        let mut fingerprint = [0u8; 32];
        fingerprint[..16].copy_from_slice(&a);
        fingerprint[16..].copy_from_slice(&b);
        Some(ChannelContact { port, fingerprint })
    }
}

fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Decodes exactly 16 bytes; refuses other lengths, foreign digits and non-zero
/// padding bits (so each half has one spelling).
fn unbase32_16(text: &str) -> Option<[u8; 16]> {
    if text.len() != HALF_DIGITS {
        return None;
    }
    let mut out = [0u8; 16];
    let (mut acc, mut bits, mut n) = (0u32, 0u32, 0usize);
    for c in text.bytes() {
        let v = ALPHABET.iter().position(|a| *a == c)? as u32;
        acc = ((acc << 5) | v) & 0xffff;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            *out.get_mut(n)? = (acc >> bits) as u8;
            n += 1;
        }
    }
    (n == 16 && acc & ((1 << bits) - 1) == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contact_round_trips_through_announcement_sized_tokens() {
        for fp in [[0u8; 32], [0xff; 32], core::array::from_fn(|i| i as u8 * 7)] {
            let c = ChannelContact {
                port: 7443,
                fingerprint: fp,
            };
            let caps = c.capabilities();
            for t in &caps {
                assert!(t.len() <= 32, "{t}");
                assert!(
                    t.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b':'),
                    "{t}"
                );
            }
            let mut with_others = vec!["wasm".to_string(), "cpu:4".to_string()];
            with_others.extend(caps);
            assert_eq!(ChannelContact::from_capabilities(&with_others), Some(c));
        }
    }

    #[test]
    fn base32_matches_rfc4648() {
        // RFC 4648 §10 test vectors, lowercase and unpadded.
        assert_eq!(base32(b"foobar"), "mzxw6ytboi");
        assert_eq!(base32(b"fo"), "mzxq");
    }

    #[test]
    fn incomplete_or_malformed_contacts_are_refused() {
        let c = ChannelContact {
            port: 9000,
            fingerprint: [3; 32],
        };
        let caps = c.capabilities();
        for missing in 0..3 {
            let mut partial = caps.clone();
            partial.remove(missing);
            assert_eq!(ChannelContact::from_capabilities(&partial), None);
        }
        let mut bad = caps.clone();
        bad[0] = "ch:0".into();
        assert_eq!(ChannelContact::from_capabilities(&bad), None);
        let mut bad = caps.clone();
        bad[1].pop();
        assert_eq!(ChannelContact::from_capabilities(&bad), None);
        let mut bad = caps.clone();
        bad[2] = format!("tlsb:{}1", &bad[2][5..30]);
        assert_eq!(ChannelContact::from_capabilities(&bad), None);
        // A last digit with padding bits set is another spelling of the same bytes.
        let mut bad = caps;
        let last = bad[1].pop().unwrap();
        let i = ALPHABET.iter().position(|a| *a as char == last).unwrap();
        assert_eq!(i & 3, 0, "a canonical last digit has zero padding bits");
        bad[1].push(ALPHABET[i | 1] as char);
        assert_eq!(ChannelContact::from_capabilities(&bad), None);
    }
}
