//! The P2P credential: a JWT (RFC 7519) signed with EdDSA over Ed25519 (RFC 8037).
//!
//! It binds the job, the engine's wallet, the node's wallet and the node's TLS key
//! fingerprint, lives at most five minutes and carries a random `jti` that the
//! coordinator uses up on first verification (single use, threat 7). Signing and
//! signature verification go through `jsonwebtoken` (the design's JWT library, with its
//! RustCrypto backend), pinned to EdDSA: the accepted algorithm list holds EdDSA alone,
//! and before the library sees a token this module checks its header is exactly the one
//! it writes (`alg` EdDSA, `typ` JWT, our `kid`, no embedded or remote keys), so
//! `alg: none`, an HMAC over the public key or a foreign key id are refused as a header
//! error whatever the library would say. Times are checked here against the caller's
//! clock (`now_secs`, so tests and replicas agree), not the library's wall clock:
//! `exp` strictly in the future, `iat` and `nbf` not beyond the leeway, a lifetime no
//! longer than the configured TTL.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use ed25519_dalek::SigningKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};

/// Audience of every credential: the node that serves the job.
pub const AUDIENCE: &str = "cyxwiz-node";
const ISSUER: &str = "cyxwiz-coordinator";
/// Longest accepted token (spec: 5 minutes).
pub const MAX_TTL_SECS: i64 = 300;
/// Clock tolerance for `iat` and `nbf`.
const LEEWAY_SECS: i64 = 30;
/// Tokens longer than this are refused before parsing.
pub const MAX_TOKEN_LEN: usize = 2_048;
/// Header parameters that carry or point to a key (RFC 7515 §4.1.3–4.1.6) or demand
/// extensions (§4.1.11): never honoured, so a token carrying one is refused outright.
const FORBIDDEN_HEADER_PARAMS: [&str; 6] = ["jwk", "jku", "x5u", "x5c", "x5t", "crit"];
/// PKCS#8 v1 prefix of an Ed25519 private key (RFC 8410 §7): the 32-byte seed follows.
/// `jsonwebtoken` takes EdDSA signing keys only as PKCS#8 DER.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

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
    /// Not before: the issue time.
    pub nbf: i64,
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
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    public: [u8; 32],
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
        let public = SigningKey::from_bytes(secret).verifying_key().to_bytes();
        let mut pkcs8 = zeroize::Zeroizing::new(Vec::with_capacity(48));
        pkcs8.extend_from_slice(&ED25519_PKCS8_PREFIX);
        pkcs8.extend_from_slice(secret);
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.algorithms = vec![Algorithm::EdDSA];
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        // Times are checked in `verify` against the caller's clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        Jwt {
            encoding: EncodingKey::from_ed_der(&pkcs8),
            decoding: DecodingKey::from_ed_der(&public),
            validation,
            kid: bs58_encode(&public),
            public,
            ttl_secs: ttl_secs.clamp(1, MAX_TTL_SECS),
        }
    }

    /// The key id: the base58 public key (a Solana address).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.public
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
                "x": B64.encode(self.public),
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
            nbf: now_secs,
            exp: now_secs + self.ttl_secs,
            jti: uuid::Uuid::new_v4().simple().to_string(),
        };
        let mut header = jsonwebtoken::Header::new(Algorithm::EdDSA);
        header.typ = Some("JWT".into());
        header.kid = Some(self.kid.clone());
        // The key is a valid PKCS#8 Ed25519 key built above and the claims are plain
        // strings and integers, so encoding cannot fail.
        let token = jsonwebtoken::encode(&header, &claims, &self.encoding).unwrap_or_default();
        (token, claims)
    }

    /// Checks a credential's form, signature and times. Single use is checked by the
    /// caller against shared state with the returned `jti`.
    pub fn verify(&self, token: &str, now_secs: i64) -> Result<Claims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(h), Some(_), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        self.check_header(h)?;
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => TokenError::Signature,
                ErrorKind::InvalidAlgorithm
                | ErrorKind::InvalidAlgorithmName
                | ErrorKind::MissingAlgorithm
                | ErrorKind::UnsupportedAlgorithm => TokenError::Header,
                ErrorKind::InvalidIssuer | ErrorKind::InvalidAudience => TokenError::WrongParty,
                _ => TokenError::Malformed,
            })?
            .claims;
        if claims.exp - claims.iat > self.ttl_secs || claims.exp - claims.nbf > self.ttl_secs {
            return Err(TokenError::TooLong);
        }
        if claims.iat > now_secs + LEEWAY_SECS || claims.nbf > now_secs + LEEWAY_SECS {
            return Err(TokenError::NotYetValid);
        }
        if now_secs >= claims.exp {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    /// The header must be exactly what `issue` writes; anything else is a header error
    /// (even an `alg` the library cannot parse, such as `none`).
    fn check_header(&self, encoded: &str) -> Result<(), TokenError> {
        let header: serde_json::Map<String, serde_json::Value> = B64
            .decode(encoded)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(TokenError::Malformed)?;
        let field = |k: &str| header.get(k).and_then(|v| v.as_str());
        if field("alg") != Some("EdDSA")
            || field("typ") != Some("JWT")
            || field("kid") != Some(self.kid.as_str())
            || FORBIDDEN_HEADER_PARAMS
                .iter()
                .any(|k| header.contains_key(*k))
        {
            return Err(TokenError::Header);
        }
        Ok(())
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

    fn claims_json(j: &Jwt) -> Claims {
        j.issue("e", "ab", "n", &[0; 32], 1_000).1
    }

    #[test]
    fn hs256_signed_with_the_public_key_as_secret_is_refused() {
        let j = jwt();
        let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
        header.typ = Some("JWT".into());
        header.kid = Some(j.kid().to_string());
        let token = jsonwebtoken::encode(
            &header,
            &claims_json(&j),
            &EncodingKey::from_secret(&j.public_key()).unwrap(),
        )
        .unwrap();
        assert_eq!(j.verify(&token, 1_000), Err(TokenError::Header));
        // The same with the base58 key id as the secret, as a confused verifier might use.
        let token = jsonwebtoken::encode(
            &header,
            &claims_json(&j),
            &EncodingKey::from_secret(j.kid().as_bytes()).unwrap(),
        )
        .unwrap();
        assert_eq!(j.verify(&token, 1_000), Err(TokenError::Header));
    }

    #[test]
    fn a_kid_that_is_not_ours_is_refused_even_with_our_signature() {
        let j = jwt();
        let mut header = jsonwebtoken::Header::new(Algorithm::EdDSA);
        header.typ = Some("JWT".into());
        header.kid = Some("someone-else".into());
        let token = jsonwebtoken::encode(&header, &claims_json(&j), &j.encoding).unwrap();
        assert_eq!(j.verify(&token, 1_000), Err(TokenError::Header));
        // No kid at all.
        header.kid = None;
        let token = jsonwebtoken::encode(&header, &claims_json(&j), &j.encoding).unwrap();
        assert_eq!(j.verify(&token, 1_000), Err(TokenError::Header));
    }

    #[test]
    fn an_embedded_key_in_the_header_is_refused() {
        let j = jwt();
        let (token, _) = j.issue("e", "ab", "n", &[0; 32], 1_000);
        let parts: Vec<&str> = token.split('.').collect();
        let h = B64.encode(format!(
            r#"{{"alg":"EdDSA","typ":"JWT","kid":"{}","jku":"https://evil.example/jwks"}}"#,
            j.kid()
        ));
        let forged = format!("{h}.{}.{}", parts[1], parts[2]);
        assert_eq!(j.verify(&forged, 1_000), Err(TokenError::Header));
    }

    #[test]
    fn a_token_over_the_length_limit_is_refused_before_parsing() {
        let j = jwt();
        let (token, _) = j.issue("e", "ab", "n", &[0; 32], 1_000);
        let padded = format!("{token}{}", "A".repeat(MAX_TOKEN_LEN + 1 - token.len()));
        assert_eq!(padded.len(), MAX_TOKEN_LEN + 1);
        assert_eq!(j.verify(&padded, 1_000), Err(TokenError::Malformed));
    }

    #[test]
    fn wrong_issuer_or_audience_is_refused_and_not_before_is_honoured() {
        let j = jwt();
        let mut header = jsonwebtoken::Header::new(Algorithm::EdDSA);
        header.typ = Some("JWT".into());
        header.kid = Some(j.kid().to_string());
        let mut c = claims_json(&j);
        c.aud = "someone".into();
        let token = jsonwebtoken::encode(&header, &c, &j.encoding).unwrap();
        assert_eq!(j.verify(&token, 1_000), Err(TokenError::WrongParty));
        let mut c = claims_json(&j);
        c.iss = "another-coordinator".into();
        let token = jsonwebtoken::encode(&header, &c, &j.encoding).unwrap();
        assert_eq!(j.verify(&token, 1_000), Err(TokenError::WrongParty));
        let mut c = claims_json(&j);
        c.nbf = 1_200;
        c.exp = 1_300;
        let token = jsonwebtoken::encode(&header, &c, &j.encoding).unwrap();
        assert_eq!(j.verify(&token, 1_100), Err(TokenError::NotYetValid));
        assert!(j.verify(&token, 1_200).is_ok());
        // A claim the coordinator never writes makes the token malformed.
        let mut v = serde_json::to_value(claims_json(&j)).unwrap();
        v["admin"] = serde_json::json!(true);
        let token = jsonwebtoken::encode(&header, &v, &j.encoding).unwrap();
        assert_eq!(j.verify(&token, 1_000), Err(TokenError::Malformed));
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
