//! The job channel's TLS: a real tonic server with the node identity, reached only by a
//! client pinning the right key.

use std::time::Duration;

use cyxwiz_channel::tls::{TlsIdentity, connect_pinned, parse_endpoint};
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

async fn serve(identity: &TlsIdentity) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (_reporter, health) = tonic_health::server::health_reporter();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let tls = identity.server_config();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .tls_config(tls)
            .unwrap()
            .add_service(health)
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                async {
                    let _ = rx.await;
                },
            )
            .await
            .unwrap();
    });
    (format!("https://127.0.0.1:{}", addr.port()), tx)
}

#[tokio::test]
async fn pinned_key_connects_and_any_other_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let identity = TlsIdentity::load_or_create(&dir.path().join("tls.pem")).unwrap();
    let (endpoint, _stop) = serve(&identity).await;

    let channel = connect_pinned(&endpoint, identity.fingerprint(), Duration::from_secs(5))
        .await
        .expect("the pinned key is accepted");
    let status = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health over TLS")
        .into_inner()
        .status;
    assert_eq!(status, 1, "SERVING");

    let mut wrong = identity.fingerprint();
    wrong[0] ^= 1;
    let err = connect_pinned(&endpoint, wrong, Duration::from_secs(5))
        .await
        .expect_err("another key is refused");
    let msg = err.to_string();
    assert!(
        msg.contains("ApplicationVerificationFailure") || msg.contains("invalid peer certificate"),
        "{msg}"
    );

    // A plaintext client gets nothing from the TLS port.
    let plain = tonic::transport::Endpoint::from_shared(endpoint.replace("https", "http"))
        .unwrap()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(2));
    if let Ok(ch) = plain.connect().await {
        let r = HealthClient::new(ch)
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await;
        assert!(r.is_err(), "plaintext must not reach the service");
    }
}

#[test]
fn key_file_is_private_and_stable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys/tls.pem");
    let a = TlsIdentity::load_or_create(&path).unwrap();
    let b = TlsIdentity::load_or_create(&path).unwrap();
    assert_eq!(
        a.fingerprint(),
        b.fingerprint(),
        "the key survives restarts"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let other = TlsIdentity::load_or_create(&dir.path().join("other.pem")).unwrap();
    assert_ne!(a.fingerprint(), other.fingerprint());

    std::fs::write(dir.path().join("bad.pem"), "not a key").unwrap();
    let err = TlsIdentity::load_or_create(&dir.path().join("bad.pem")).unwrap_err();
    assert!(err.to_string().contains("bad.pem"), "{err}");
}

#[test]
fn endpoints_parse_strictly() {
    assert_eq!(
        parse_endpoint("https://10.0.0.1:7443").unwrap(),
        ("10.0.0.1".to_string(), 7443)
    );
    assert_eq!(
        parse_endpoint("https://node.example:443/").unwrap(),
        ("node.example".to_string(), 443)
    );
    assert_eq!(
        parse_endpoint("https://[::1]:7443").unwrap(),
        ("::1".to_string(), 7443)
    );
    for bad in [
        "http://a:1",
        "https://a",
        "https://:1",
        "https://a:0",
        "https://a:x",
        "a:1",
    ] {
        assert!(parse_endpoint(bad).is_err(), "{bad}");
    }
}
