//! TLS for the job channel, trusted by key pinning instead of certificate authorities.
//!
//! The node keeps one ECDSA P-256 key (PKCS#8 PEM, mode 0600) and makes a fresh
//! self-signed certificate from it at every start; only the key matters. Its fingerprint
//! is the SHA-256 of the DER SubjectPublicKeyInfo. The engine connects with a verifier
//! that accepts a server exactly when the certificate's key has the pinned fingerprint
//! and the handshake signature verifies with that key (so the server holds the private
//! key); names, dates and issuers are deliberately ignored.

use std::{path::Path, sync::Arc, time::Duration};

use rustls::{
    DigitallySignedStruct, SignatureScheme,
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    crypto::CryptoProvider,
    pki_types::{CertificateDer, ServerName, UnixTime},
};
use tonic::transport::{Channel, Endpoint, ServerTlsConfig};
use zeroize::Zeroizing;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS key file {path}: {reason}")]
    KeyFile { path: String, reason: String },
    #[error("making the TLS certificate: {0}")]
    Certificate(String),
    #[error("invalid node endpoint {0:?}: expected https://host:port")]
    Endpoint(String),
    #[error("connecting to the node at {endpoint}: {reason}")]
    Connect { endpoint: String, reason: String },
}

/// The node's TLS key and the certificate made from it.
pub struct TlsIdentity {
    key_pem: Zeroizing<String>,
    cert_pem: String,
    fingerprint: [u8; 32],
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("fingerprint", &hex::encode(self.fingerprint))
            .finish_non_exhaustive()
    }
}

impl TlsIdentity {
    /// Loads the key at `path`, creating it (mode 0600) if the file does not exist.
    pub fn load_or_create(path: &Path) -> Result<TlsIdentity, TlsError> {
        let err = |reason: String| TlsError::KeyFile {
            path: path.display().to_string(),
            reason,
        };
        let key_pem = if path.exists() {
            Zeroizing::new(std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?)
        } else {
            let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
                .map_err(|e| err(e.to_string()))?;
            let pem = Zeroizing::new(key.serialize_pem());
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
            }
            write_private(path, pem.as_bytes()).map_err(|e| err(e.to_string()))?;
            pem
        };
        Self::from_key_pem(key_pem).map_err(|e| match e {
            TlsError::Certificate(reason) => err(reason),
            other => other,
        })
    }

    /// An identity for a key given as PKCS#8 PEM.
    pub fn from_key_pem(key_pem: Zeroizing<String>) -> Result<TlsIdentity, TlsError> {
        let key = rcgen::KeyPair::from_pem(&key_pem)
            .map_err(|e| TlsError::Certificate(format!("not a PKCS#8 PEM key: {e}")))?;
        let fingerprint = crate::sha256(&rcgen::PublicKeyData::subject_public_key_info(&key));
        let params = rcgen::CertificateParams::new(vec!["cyxwiz-node".to_string()])
            .map_err(|e| TlsError::Certificate(e.to_string()))?;
        let cert = params
            .self_signed(&key)
            .map_err(|e| TlsError::Certificate(e.to_string()))?;
        Ok(TlsIdentity {
            key_pem,
            cert_pem: cert.pem(),
            fingerprint,
        })
    }

    /// SHA-256 of the public key's SubjectPublicKeyInfo: what engines pin.
    pub fn fingerprint(&self) -> [u8; 32] {
        self.fingerprint
    }

    /// The server side for tonic.
    ///
    /// tonic builds the server's rustls config from the process-level crypto provider,
    /// which rustls cannot pick by itself once two providers are compiled in (libp2p's
    /// QUIC brings aws-lc next to our ring); so ring is installed as the default first
    /// unless the program already chose one.
    pub fn server_config(&self) -> ServerTlsConfig {
        install_default_provider();
        ServerTlsConfig::new().identity(tonic::transport::Identity::from_pem(
            &self.cert_pem,
            self.key_pem.as_bytes(),
        ))
    }
}

/// Makes ring the process-level rustls provider if none is installed yet. Idempotent;
/// a provider the program installed earlier is kept.
pub fn install_default_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if CryptoProvider::get_default().is_none() {
            // Err means another thread installed one in between: also fine.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
    });
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// The fingerprint of the key in a DER certificate.
pub fn certificate_fingerprint(cert: &CertificateDer<'_>) -> Option<[u8; 32]> {
    let parsed = webpki::EndEntityCert::try_from(cert).ok()?;
    Some(crate::sha256(parsed.subject_public_key_info().as_ref()))
}

/// Accepts exactly the server key with the pinned fingerprint.
#[derive(Debug)]
struct PinnedKey {
    fingerprint: [u8; 32],
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedKey {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match certificate_fingerprint(end_entity) {
            Some(fp) if fp == self.fingerprint => Ok(ServerCertVerified::assertion()),
            Some(_) => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            )),
            None => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::BadEncoding,
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn client_config(fingerprint: [u8; 32]) -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedKey {
            fingerprint,
            provider,
        }))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// Splits `https://host:port` into host and port.
pub fn parse_endpoint(endpoint: &str) -> Result<(String, u16), TlsError> {
    let bad = || TlsError::Endpoint(endpoint.to_string());
    let rest = endpoint.strip_prefix("https://").ok_or_else(bad)?;
    let rest = rest.trim_end_matches('/');
    let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || port == 0 || host.contains('/') {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

/// A gRPC channel to the node at `endpoint` (`https://host:port`) that only completes
/// the TLS handshake with the key whose fingerprint is `fingerprint`.
pub async fn connect_pinned(
    endpoint: &str,
    fingerprint: [u8; 32],
    connect_timeout: Duration,
) -> Result<Channel, TlsError> {
    let (host, port) = parse_endpoint(endpoint)?;
    let failed = |reason: String| TlsError::Connect {
        endpoint: endpoint.to_string(),
        reason,
    };
    let config = client_config(fingerprint).map_err(|e| failed(e.to_string()))?;
    let target = (host.clone(), port);
    let connector = tower::service_fn(move |_uri: http_uri::Uri| {
        let config = config.clone();
        let (host, port) = target.clone();
        async move {
            let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
            tcp.set_nodelay(true)?;
            // The name is not checked (the key is pinned), but SNI needs a valid one.
            let name = ServerName::try_from(host.clone())
                .unwrap_or_else(|_| ServerName::try_from("cyxwiz-node").expect("valid name"))
                .to_owned();
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await?;
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tls))
        }
    });
    // The scheme is http because the connector already speaks TLS.
    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    Endpoint::from_shared(format!("http://{authority}"))
        .map_err(|e| failed(e.to_string()))?
        .connect_timeout(connect_timeout)
        .tcp_nodelay(true)
        .connect_with_connector(connector)
        .await
        .map_err(|e| failed(source_chain(&e)))
}

/// An error with its causes, for messages that say what actually failed.
pub fn source_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// `tonic`'s re-export of the `http` crate's URI type.
mod http_uri {
    pub use tonic::codegen::http::Uri;
}
