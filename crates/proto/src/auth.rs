//! Wallet-signature authentication of coordinator calls.
//!
//! The caller signs, with the ed25519 key of its Solana wallet,
//!
//! ```text
//! "cyxwiz-coordinator-v1\n" method "\n" timestamp_ms "\n" hex(nonce) "\n" hex(sha256(body))
//! ```
//!
//! where `method` is the full gRPC path (see [`crate::methods`]) and `body` is the protobuf
//! encoding of the request message. The four values travel as metadata. The method name
//! stops a signature for one call being replayed against another; the timestamp bounds how
//! long a captured request stays usable; the nonce (remembered by the coordinator for that
//! long) makes each request single-use; the body hash binds the arguments.

use prost::Message;
use sha2::{Digest, Sha256};
use solana_keypair::Keypair;
use solana_pubkey::Pubkey;
use solana_signature::Signature;
use solana_signer::Signer;
use tonic::metadata::{MetadataMap, MetadataValue};

pub const WALLET: &str = "x-cyxwiz-wallet";
pub const TIMESTAMP: &str = "x-cyxwiz-timestamp";
pub const NONCE: &str = "x-cyxwiz-nonce";
pub const SIGNATURE: &str = "x-cyxwiz-signature";

const DOMAIN: &str = "cyxwiz-coordinator-v1";
pub const NONCE_LEN: usize = 16;

/// Why a request's signature was refused. Messages name the problem, never a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing {0} metadata")]
    Missing(&'static str),
    #[error("malformed {0} metadata")]
    Malformed(&'static str),
    #[error(
        "request timestamp is {skew_ms} ms away from the coordinator's clock (limit {limit_ms} ms)"
    )]
    Stale { skew_ms: i64, limit_ms: i64 },
    #[error("signature does not match the wallet, method and request")]
    BadSignature,
}

/// An authenticated caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub wallet: Pubkey,
    pub timestamp_ms: i64,
    pub nonce: [u8; NONCE_LEN],
}

/// The bytes a caller signs.
pub fn signing_message(
    method: &str,
    timestamp_ms: i64,
    nonce: &[u8; NONCE_LEN],
    body: &[u8],
) -> Vec<u8> {
    format!(
        "{DOMAIN}\n{method}\n{timestamp_ms}\n{}\n{}",
        hex::encode(nonce),
        hex::encode(Sha256::digest(body))
    )
    .into_bytes()
}

/// A request for `method` carrying `message`, signed by `wallet` at `timestamp_ms`.
pub fn signed_request<M: Message>(
    method: &str,
    message: M,
    wallet: &Keypair,
    timestamp_ms: i64,
) -> tonic::Request<M> {
    let nonce: [u8; NONCE_LEN] = rand::random();
    let body = message.encode_to_vec();
    let signature = wallet.sign_message(&signing_message(method, timestamp_ms, &nonce, &body));
    let mut request = tonic::Request::new(message);
    let md = request.metadata_mut();
    insert(md, WALLET, wallet.pubkey().to_string());
    insert(md, TIMESTAMP, timestamp_ms.to_string());
    insert(md, NONCE, hex::encode(nonce));
    insert(md, SIGNATURE, signature.to_string());
    request
}

/// [`signed_request`] at the current system time.
pub fn sign_now<M: Message>(method: &str, message: M, wallet: &Keypair) -> tonic::Request<M> {
    signed_request(method, message, wallet, now_ms())
}

fn insert(md: &mut MetadataMap, key: &'static str, value: String) {
    // Base58, decimal and hex are always valid ASCII metadata.
    if let Ok(v) = MetadataValue::try_from(value) {
        md.insert(key, v);
    }
}

fn get<'a>(md: &'a MetadataMap, key: &'static str) -> Result<&'a str, AuthError> {
    md.get(key)
        .ok_or(AuthError::Missing(key))?
        .to_str()
        .map_err(|_| AuthError::Malformed(key))
}

/// Checks the signature on a request for `method` whose message is `message`, with a
/// clock skew of at most `max_skew_ms` against `now_ms`. Single use of the nonce is the
/// caller's job (it needs shared state).
pub fn verify<M: Message>(
    metadata: &MetadataMap,
    method: &str,
    message: &M,
    now_ms: i64,
    max_skew_ms: i64,
) -> Result<Caller, AuthError> {
    let wallet: Pubkey = get(metadata, WALLET)?
        .parse()
        .map_err(|_| AuthError::Malformed(WALLET))?;
    let timestamp_ms: i64 = get(metadata, TIMESTAMP)?
        .parse()
        .map_err(|_| AuthError::Malformed(TIMESTAMP))?;
    let nonce: [u8; NONCE_LEN] = hex::decode(get(metadata, NONCE)?)
        .ok()
        .and_then(|n| n.try_into().ok())
        .ok_or(AuthError::Malformed(NONCE))?;
    let signature: Signature = get(metadata, SIGNATURE)?
        .parse()
        .map_err(|_| AuthError::Malformed(SIGNATURE))?;
    let skew_ms = now_ms.saturating_sub(timestamp_ms);
    if skew_ms.saturating_abs() > max_skew_ms {
        return Err(AuthError::Stale {
            skew_ms,
            limit_ms: max_skew_ms,
        });
    }
    let body = message.encode_to_vec();
    if !signature.verify(
        wallet.as_ref(),
        &signing_message(method, timestamp_ms, &nonce, &body),
    ) {
        return Err(AuthError::BadSignature);
    }
    Ok(Caller {
        wallet,
        timestamp_ms,
        nonce,
    })
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::JobRef;

    fn job(id: u8) -> JobRef {
        JobRef {
            job_id: vec![id; 16],
        }
    }

    #[test]
    fn a_signed_request_verifies_and_names_its_wallet() {
        let kp = Keypair::new();
        let req = signed_request(crate::methods::GET_JOB_STATUS, job(1), &kp, 1_000);
        let caller = verify(
            req.metadata(),
            crate::methods::GET_JOB_STATUS,
            req.get_ref(),
            1_500,
            60_000,
        )
        .unwrap();
        assert_eq!(caller.wallet, kp.pubkey());
        assert_eq!(caller.timestamp_ms, 1_000);
    }

    #[test]
    fn another_method_another_body_or_a_stale_clock_is_refused() {
        let kp = Keypair::new();
        let req = signed_request(crate::methods::GET_JOB_STATUS, job(1), &kp, 1_000);
        assert_eq!(
            verify(
                req.metadata(),
                crate::methods::CANCEL_JOB,
                req.get_ref(),
                1_000,
                60_000
            ),
            Err(AuthError::BadSignature)
        );
        assert_eq!(
            verify(
                req.metadata(),
                crate::methods::GET_JOB_STATUS,
                &job(2),
                1_000,
                60_000
            ),
            Err(AuthError::BadSignature)
        );
        assert_eq!(
            verify(
                req.metadata(),
                crate::methods::GET_JOB_STATUS,
                req.get_ref(),
                62_000,
                60_000
            ),
            Err(AuthError::Stale {
                skew_ms: 61_000,
                limit_ms: 60_000
            })
        );
    }

    #[test]
    fn a_signature_by_another_wallet_is_refused() {
        let (kp, other) = (Keypair::new(), Keypair::new());
        let mut req = signed_request(crate::methods::GET_JOB_STATUS, job(1), &kp, 1_000);
        insert(req.metadata_mut(), WALLET, other.pubkey().to_string());
        assert_eq!(
            verify(
                req.metadata(),
                crate::methods::GET_JOB_STATUS,
                req.get_ref(),
                1_000,
                60_000
            ),
            Err(AuthError::BadSignature)
        );
        req.metadata_mut().remove(NONCE);
        assert_eq!(
            verify(
                req.metadata(),
                crate::methods::GET_JOB_STATUS,
                req.get_ref(),
                1_000,
                60_000
            ),
            Err(AuthError::Missing(NONCE))
        );
    }
}
