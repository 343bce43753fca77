//! The P2P credential: a JWT (RFC 7519) signed with EdDSA over Ed25519 (RFC 8037).
//!
//! It binds the job, the engine's wallet, the node's wallet and the node's TLS key
//! fingerprint, lives at most five minutes and carries a random `jti` that the
//! coordinator uses up on first verification (single use, threat 7). Verification is
//! strict: exactly the header this module writes (`alg` EdDSA, `typ` JWT, our `kid`), our
//! issuer and audience, a lifetime no longer than the configured TTL, not expired, not
//! issued in the future. Encoding is done here rather than with a general JWT library so
//! that no other algorithm can ever be accepted.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

/// Audience of every credential: the node that serves the job.
pub const AUDIENCE: &str = "cyxwiz-node";
const ISSUER: &str = "cyxwiz-coordinator";
/// Longest accepted token (spec: 5 minutes).
pub const MAX_TTL_SECS: i64 = 300;
/// Clock tolerance for `iat`.
const LEEWAY_SECS: i64 = 30;
/// Tokens longer than this are refused before parsing.
pub const MAX_TOKEN_LEN: usize = 2_048;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Header {
    alg: String,
    typ: String,
    kid: String,
}

/// The claims of a credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    pub iss: String,
    /// The engine's wallet.
    pub sub: String,
    pub aud: String,
    /// Job id (hex).
    pub job: String,
    /// The node's wallet.
    pub node: String,
    /// SHA-256 of the node's TLS public key (hex): what the engine pins.
    pub tls: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

/// Why a token was refused. Messages never echo the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is malformed")]
    Malformed,
    #[error("token uses an unsupported header (only EdDSA JWTs from this coordinator)")]
    Header,
    #[error("token signature is invalid")]
    Signature,
    #[error("token is expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token was not issued for this audience or by this coordinator")]
    WrongParty,
    #[error("token lifetime exceeds the limit")]
    TooLong,
}

/// Issues and verifies credentials with the coordinator's key.
pub struct Jwt {
    key: SigningKey,
    verifying: VerifyingKey,
    kid: String,
    ttl_secs: i64,
}

impl std::fmt::Debug for Jwt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwt")
            .field("kid", &self.kid)
            .field("ttl_secs", &self.ttl_secs)
            .finish()
    }
}

impl Jwt {
    /// `secret`: the 32-byte Ed25519 seed (the first half of a Solana CLI keypair file).
    pub fn new(secret: &[u8; 32], ttl_secs: i64) -> Jwt {
        let key = SigningKey::from_bytes(secret);
        let verifying = key.verifying_key();
        Jwt {
            kid: bs58_encode(verifying.as_bytes()),
            key,
            verifying,
            ttl_secs: ttl_secs.clamp(1, MAX_TTL_SECS),
        }
    }

    /// The key id: the base58 public key (a Solana address).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.verifying.to_bytes()
    }

    /// The public key as a JSON Web Key Set, for nodes that verify tokens themselves.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({
            "keys": [{
                "kty": "OKP",
                "crv": "Ed25519",
                "alg": "EdDSA",
                "use": "sig",
                "kid": self.kid,
                "x": B64.encode(self.verifying.as_bytes()),
            }]
        })
    }

    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    /// A new credential for `job` on `node` (TLS key `tls`) held by `engine`, valid from
    /// `now_secs` for the configured TTL.
    pub fn issue(
        &self,
        engine: &str,
        job: &str,
        node: &str,
        tls: &[u8; 32],
        now_secs: i64,
    ) -> (String, Claims) {
        let claims = Claims {
            iss: ISSUER.into(),
            sub: engine.into(),
            aud: AUDIENCE.into(),
            job: job.into(),
            node: node.into(),
            tls: hex::encode(tls),
            iat: now_secs,
            exp: now_secs + self.ttl_secs,
            jti: uuid::Uuid::new_v4().simple().to_string(),
        };
        let header = Header {
            alg: "EdDSA".into(),
            typ: "JWT".into(),
            kid: self.kid.clone(),
        };
        // Serialising these plain structs cannot fail.
        let h = B64.encode(serde_json::to_vec(&header).unwrap_or_default());
        let c = B64.encode(serde_json::to_vec(&claims).unwrap_or_default());
        let signing_input = format!("{h}.{c}");
        let sig = self.key.sign(signing_input.as_bytes());
        (
            format!("{signing_input}.{}", B64.encode(sig.to_bytes())),
            claims,
        )
    }

    /// Checks a credential's form, signature and times. Single use is checked by the
    /// caller against shared state with the returned `jti`.
    pub fn verify(&self, token: &str, now_secs: i64) -> Result<Claims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header: Header = B64
            .decode(h)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(TokenError::Malformed)?;
        if header.alg != "EdDSA" || header.typ != "JWT" || header.kid != self.kid {
            return Err(TokenError::Header);
        }
        let sig: [u8; 64] = B64
            .decode(s)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(TokenError::Malformed)?;
        let signing_input = &token[..h.len() + 1 + c.len()];
        self.verifying
            .verify(signing_input.as_bytes(), &Signature::from_bytes(&sig))
            .map_err(|_| TokenError::Signature)?;
        let claims: Claims = B64
            .decode(c)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(TokenError::Malformed)?;
        if claims.iss != ISSUER || claims.aud != AUDIENCE {
            return Err(TokenError::WrongParty);
        }
        if claims.exp - claims.iat > self.ttl_secs {
            return Err(TokenError::TooLong);
        }
        if claims.iat > now_secs + LEEWAY_SECS {
            return Err(TokenError::NotYetValid);
        }
        if now_secs >= claims.exp {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

fn bs58_encode(bytes: &[u8; 32]) -> String {
    solana_pubkey::Pubkey::new_from_array(*bytes).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt() -> Jwt {
        Jwt::new(&[7; 32], 300)
    }

    #[test]
    fn an_issued_token_verifies_with_its_claims() {
        let j = jwt();
        let (token, claims) = j.issue("engine", "ab", "node", &[9; 32], 1_000);
        assert_eq!(j.verify(&token, 1_100).unwrap(), claims);
        assert_eq!(claims.exp, 1_300);
        assert_eq!(claims.tls, hex::encode([9; 32]));
        assert_ne!(
            j.issue("engine", "ab", "node", &[9; 32], 1_000).1.jti,
            claims.jti
        );
    }

    #[test]
    fn expiry_and_future_issue_are_refused() {
        let j = jwt();
        let (token, _) = j.issue("e", "ab", "n", &[0; 32], 1_000);
        assert_eq!(j.verify(&token, 1_300), Err(TokenError::Expired));
        assert_eq!(j.verify(&token, 1_000 - 31), Err(TokenError::NotYetValid));
    }

    #[test]
    fn tampered_claims_another_key_or_alg_none_are_refused() {
        let j = jwt();
        let (token, _) = j.issue("e", "ab", "n", &[0; 32], 1_000);
        let parts: Vec<&str> = token.split('.').collect();
        // Claims rewritten to another node, signature kept.
        let forged_claims = B64.encode(
            String::from_utf8(B64.decode(parts[1]).unwrap())
                .unwrap()
                .replace("\"node\":\"n\"", "\"node\":\"m\""),
        );
        let forged = format!("{}.{}.{}", parts[0], forged_claims, parts[2]);
        assert_eq!(j.verify(&forged, 1_000), Err(TokenError::Signature));
        // Signed by another coordinator key (different kid).
        let other = Jwt::new(&[8; 32], 300);
        let (foreign, _) = other.issue("e", "ab", "n", &[0; 32], 1_000);
        assert_eq!(j.verify(&foreign, 1_000), Err(TokenError::Header));
        // alg "none" with the right kid and no signature.
        let none = B64.encode(format!(
            r#"{{"alg":"none","typ":"JWT","kid":"{}"}}"#,
            j.kid()
        ));
        assert_eq!(
            j.verify(&format!("{none}.{}.", parts[1]), 1_000),
            Err(TokenError::Header)
        );
        assert_eq!(j.verify("a.b", 1_000), Err(TokenError::Malformed));
        assert_eq!(
            j.verify(&"x".repeat(MAX_TOKEN_LEN + 1), 1_000),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn a_token_longer_than_the_ttl_is_refused() {
        let long = Jwt::new(&[7; 32], 300);
        let short = Jwt::new(&[7; 32], 60);
        let (token, _) = long.issue("e", "ab", "n", &[0; 32], 1_000);
        assert_eq!(short.verify(&token, 1_010), Err(TokenError::TooLong));
    }

    #[test]
    fn the_jwks_publishes_the_verifying_key() {
        let j = jwt();
        let jwks = j.jwks();
        assert_eq!(jwks["keys"][0]["kid"], j.kid());
        assert_eq!(
            B64.decode(jwks["keys"][0]["x"].as_str().unwrap()).unwrap(),
            j.public_key()
        );
    }
}
