//! Dependencies failing under a running coordinator: Redis going away (submissions are
//! refused with a clear UNAVAILABLE, reads keep working, no slot is ever given twice)
//! and PostgreSQL restarting (requests fail cleanly while it is down, then recover).
//! These run in their own test binary because they restart shared services.

mod common;

use std::{process::Command, time::Duration};

use common::*;
use cyxwiz_common::units::ONE_CYXWIZ;
use tonic::Code;

/// The two tests must not overlap: one restarts the PostgreSQL the other uses.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct PrivateRedis {
    child: std::process::Child,
    port: u16,
}

impl PrivateRedis {
    fn start(port: u16) -> PrivateRedis {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        for _ in 0..50 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        PrivateRedis { child, port }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_refuses_submissions_clearly_and_never_double_assigns() {
    let _serial = SERIAL.lock().await;
    let net = localnet().await;
    let dir = temp_dir("redisdown");
    let port = free_port();
    let redis = PrivateRedis::start(port);
    let mut cfg = config(&net, &dir, &Db::Postgres, Some(&unique("down")));
    cfg.redis.url = format!("redis://127.0.0.1:{}", redis.port);
    cfg.redis.timeout_ms = 500;
    let store_cfg = cfg.clone();
    let served = serve(cfg).await;
    let url = served.url();
    let op = Operator::on_chain(&net, 100 * ONE_CYXWIZ).await;
    op.join(&url, 1).await;
    let engine = Engine::unfunded(&net);
    let first = engine
        .submit(&url, cpu_job(2))
        .await
        .expect("submit with Redis up");
    assert_eq!(http_get(served.http, "/readyz").await.0, 200);

    drop(redis);
    let err = Engine::unfunded(&net)
        .submit(&url, cpu_job(2))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert!(err.message().contains("Redis"), "{}", err.message());
    let (code, body) = http_get(served.http, "/readyz").await;
    assert_eq!(code, 503);
    assert!(body.contains("\"ready\":false"), "{body}");
    // Reads from the database still work.
    let store = store_of(&store_cfg).await;
    assert_eq!(store.jobs(None, None, 10, 0).await.unwrap().len(), 1);
    let (code, body) = http_get(
        served.http,
        &format!("/v1/jobs/{}", hex::encode(&first.job_id)),
    )
    .await;
    assert_eq!(code, 200, "{body}");

    // Redis comes back empty (no persistence): the database still holds the slot.
    let _redis = PrivateRedis::start(port);
    let mut refused = None;
    for _ in 0..40 {
        match Engine::unfunded(&net).submit(&url, cpu_job(2)).await {
            Err(e) if e.code() == Code::Unavailable => {
                tokio::time::sleep(Duration::from_millis(250)).await
            }
            other => {
                refused = Some(other);
                break;
            }
        }
    }
    let refused = refused.expect("Redis reconnects").unwrap_err();
    assert!(
        matches!(refused.code(), Code::ResourceExhausted | Code::Aborted),
        "the held node is not given again: {refused:?}"
    );
    assert_eq!(store.active_slots().await.unwrap().len(), 1);
    served.stop().await;
    net.stop();
}

fn pg_cluster() -> String {
    std::fs::read_dir("/etc/postgresql")
        .expect("PostgreSQL is installed")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .next()
        .expect("a PostgreSQL cluster")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_during_a_run_fails_cleanly_then_recovers() {
    let _serial = SERIAL.lock().await;
    let net = localnet().await;
    let dir = temp_dir("pgrestart");
    let served = serve(config(&net, &dir, &Db::Postgres, None)).await;
    let url = served.url();
    let op = Operator::on_chain(&net, 100 * ONE_CYXWIZ).await;
    op.join(&url, 64).await;
    let engine = Engine::unfunded(&net);
    let before = engine
        .submit(&url, cpu_job(2))
        .await
        .expect("submit before the restart");

    let version = pg_cluster();
    let restart = tokio::task::spawn_blocking(move || {
        Command::new("pg_ctlcluster")
            .args(["--skip-systemctl-redirect", &version, "main", "restart"])
            .status()
    });
    // While it restarts: every answer is a success or a clean UNAVAILABLE.
    let mut codes = Vec::new();
    while !restart.is_finished() {
        match Engine::unfunded(&net).submit(&url, cpu_job(2)).await {
            Ok(_) => codes.push(Code::Ok),
            Err(e) => codes.push(e.code()),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        restart.await.unwrap().unwrap().success(),
        "pg_ctlcluster restart"
    );
    assert!(
        codes
            .iter()
            .all(|c| matches!(c, Code::Ok | Code::Unavailable)),
        "clean failures only: {codes:?}"
    );
    // After: the pool reconnects and everything works, including the earlier job.
    let mut ok = false;
    for _ in 0..60 {
        if Engine::unfunded(&net)
            .submit(&url, cpu_job(2))
            .await
            .is_ok()
        {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(ok, "submissions recover after the restart");
    let status = engine.status(&url, &before.job_id).await;
    assert_eq!(status.state, cyxwiz_proto::v1::JobState::Reserved as i32);
    served.stop().await;
    net.stop();
}
