//! JSON field encodings: every byte string is lower-case hex and every metric value is
//! its exact `f64` bit pattern, so a transcript survives a JSON round trip bit for bit
//! (NaN payloads, `-0.0` and values JSON numbers cannot carry included).

use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error as _};

/// `[u8; N]` as `N * 2` hex characters.
pub(crate) mod array {
    use super::*;

    pub(crate) fn serialize<S: Serializer, const N: usize>(
        v: &[u8; N],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        d: D,
    ) -> Result<[u8; N], D::Error> {
        let s = String::deserialize(d)?;
        let mut out = [0u8; N];
        hex::decode_to_slice(&s, &mut out).map_err(D::Error::custom)?;
        Ok(out)
    }
}

/// `Vec<u8>` as hex.
pub(crate) mod bytes {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(&s).map_err(D::Error::custom)
    }
}

/// `Vec<(i32, f64)>` as `[{"key": k, "bits": "<16 hex digits of f64::to_bits>"}]`.
pub(crate) mod metrics {
    use super::*;

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Metric {
        key: i32,
        bits: String,
    }

    pub(crate) fn serialize<S: Serializer>(v: &[(i32, f64)], s: S) -> Result<S::Ok, S::Error> {
        v.iter()
            .map(|&(key, value)| Metric {
                key,
                bits: format!("{:016x}", value.to_bits()),
            })
            .collect::<Vec<_>>()
            .serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<(i32, f64)>, D::Error> {
        Vec::<Metric>::deserialize(d)?
            .into_iter()
            .map(|m| {
                if m.bits.len() != 16 {
                    return Err(D::Error::custom("metric bits must be 16 hex digits"));
                }
                let bits = u64::from_str_radix(&m.bits, 16).map_err(D::Error::custom)?;
                Ok((m.key, f64::from_bits(bits)))
            })
            .collect()
    }
}
