//! One behavioural suite for [`SharedState`], run against both implementations: the
//! in-process [`MemoryShared`] and [`RedisShared`] on a real Redis (default
//! `redis://127.0.0.1:6379`, or `CYXWIZ_TEST_REDIS_URL`). Both must behave the same, since
//! the coordinator's guards (reservations, rate limits, replay protection, leases) are
//! written once against the trait.
//!
//! Each Redis test gets its own random key prefix, so tests run in parallel on one server
//! without seeing each other's keys. Expiry is tested with real sleeps and TTLs of a few
//! hundred milliseconds, because Redis keeps its own clock; the margins (≥ 150 ms) absorb
//! scheduling noise on a loaded machine.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cyxwiz_coordinator::shared::memory::MemoryShared;
use cyxwiz_coordinator::shared::redis::RedisShared;
use cyxwiz_coordinator::shared::{RateDecision, SharedError, SharedState};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Barrier, watch};
use tokio::time::sleep;

const LONG: Duration = Duration::from_secs(30);

fn redis_url() -> String {
    std::env::var("CYXWIZ_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

fn unique_prefix() -> String {
    format!("test-{}", uuid::Uuid::new_v4())
}

async fn redis_store() -> Arc<dyn SharedState> {
    Arc::new(
        RedisShared::connect(&redis_url(), &unique_prefix(), Duration::from_secs(2))
            .await
            .expect("Redis for tests must be reachable (set CYXWIZ_TEST_REDIS_URL)"),
    )
}

fn memory_store() -> Arc<dyn SharedState> {
    Arc::new(MemoryShared::new())
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// ---------------------------------------------------------------------------------------
// The generic suite.
// ---------------------------------------------------------------------------------------

async fn reserve_is_exclusive(s: Arc<dyn SharedState>) {
    assert_eq!(s.holder("node-1").await.unwrap(), None);
    assert!(s.reserve("node-1", "job-a", LONG).await.unwrap());
    assert!(!s.reserve("node-1", "job-b", LONG).await.unwrap());
    assert_eq!(s.holder("node-1").await.unwrap().as_deref(), Some("job-a"));
    // Re-reserving what one holds is true and keeps the holder.
    assert!(s.reserve("node-1", "job-a", LONG).await.unwrap());
    assert_eq!(s.holder("node-1").await.unwrap().as_deref(), Some("job-a"));
    // Other keys are independent.
    assert!(s.reserve("node-2", "job-b", LONG).await.unwrap());
    assert_eq!(s.holder("node-2").await.unwrap().as_deref(), Some("job-b"));
}

async fn release_only_by_holder(s: Arc<dyn SharedState>) {
    assert!(
        !s.release("node", "job-a").await.unwrap(),
        "nothing to release"
    );
    assert!(s.reserve("node", "job-a", LONG).await.unwrap());
    assert!(!s.release("node", "job-b").await.unwrap());
    assert_eq!(s.holder("node").await.unwrap().as_deref(), Some("job-a"));
    assert!(s.release("node", "job-a").await.unwrap());
    assert_eq!(s.holder("node").await.unwrap(), None);
    assert!(
        !s.release("node", "job-a").await.unwrap(),
        "already released"
    );
    assert!(s.reserve("node", "job-b", LONG).await.unwrap());
    assert_eq!(s.holder("node").await.unwrap().as_deref(), Some("job-b"));
}

async fn reservation_expires(s: Arc<dyn SharedState>) {
    assert!(s.reserve("node", "job-a", ms(250)).await.unwrap());
    assert!(!s.reserve("node", "job-b", ms(250)).await.unwrap());
    sleep(ms(450)).await;
    assert_eq!(s.holder("node").await.unwrap(), None);
    assert!(
        !s.extend("node", "job-a", LONG).await.unwrap(),
        "expired holds cannot be extended"
    );
    assert!(
        !s.release("node", "job-a").await.unwrap(),
        "expired holds cannot be released"
    );
    assert!(s.reserve("node", "job-b", LONG).await.unwrap());
    assert_eq!(s.holder("node").await.unwrap().as_deref(), Some("job-b"));
}

async fn re_reserve_refreshes_ttl(s: Arc<dyn SharedState>) {
    assert!(s.reserve("node", "job-a", ms(600)).await.unwrap());
    sleep(ms(350)).await;
    assert!(s.reserve("node", "job-a", ms(600)).await.unwrap());
    sleep(ms(350)).await;
    // 700 ms after the first reservation, 350 ms into the refreshed one.
    assert_eq!(s.holder("node").await.unwrap().as_deref(), Some("job-a"));
    sleep(ms(500)).await;
    assert_eq!(s.holder("node").await.unwrap(), None);
}

async fn extend_only_by_holder(s: Arc<dyn SharedState>) {
    assert!(
        !s.extend("node", "job-a", LONG).await.unwrap(),
        "nothing to extend"
    );
    assert!(s.reserve("node", "job-a", ms(300)).await.unwrap());
    assert!(!s.extend("node", "job-b", LONG).await.unwrap());
    assert!(s.extend("node", "job-a", ms(2_000)).await.unwrap());
    sleep(ms(500)).await;
    // Past the original 300 ms, within the extended 2 s.
    assert_eq!(s.holder("node").await.unwrap().as_deref(), Some("job-a"));
    // Extending can also shorten: the TTL is "from now".
    assert!(s.extend("node", "job-a", ms(200)).await.unwrap());
    sleep(ms(400)).await;
    assert_eq!(s.holder("node").await.unwrap(), None);
    assert!(!s.extend("node", "job-a", LONG).await.unwrap());
}

async fn hit_allows_exactly_limit(s: Arc<dyn SharedState>) {
    let window = ms(700);
    for n in 1..=3 {
        assert_eq!(
            s.hit("client", 3, window).await.unwrap(),
            RateDecision {
                allowed: true,
                count: n,
                retry_after: Duration::ZERO,
            }
        );
    }
    for _ in 0..3 {
        let refused = s.hit("client", 3, window).await.unwrap();
        assert!(!refused.allowed);
        // Refused hits are not counted.
        assert_eq!(refused.count, 3);
        assert!(refused.retry_after > Duration::ZERO, "{refused:?}");
        assert!(refused.retry_after <= window, "{refused:?}");
    }
    // Another key has its own budget.
    assert_eq!(s.hit("other", 3, window).await.unwrap().count, 1);
    sleep(window + ms(200)).await;
    // Had the refused hits been counted, the window would still be full.
    assert_eq!(
        s.hit("client", 3, window).await.unwrap(),
        RateDecision {
            allowed: true,
            count: 1,
            retry_after: Duration::ZERO,
        }
    );
}

async fn hit_window_slides(s: Arc<dyn SharedState>) {
    let window = ms(800);
    let first = Instant::now();
    assert_eq!(s.hit("client", 2, window).await.unwrap().count, 1);
    sleep(ms(400)).await;
    assert_eq!(s.hit("client", 2, window).await.unwrap().count, 2);
    let refused = s.hit("client", 2, window).await.unwrap();
    assert!(!refused.allowed);
    assert_eq!(refused.count, 2);
    // The caller may retry when the first hit leaves the window, not a whole window later.
    let until_first_leaves = window.saturating_sub(first.elapsed());
    assert!(refused.retry_after > Duration::ZERO, "{refused:?}");
    assert!(
        refused.retry_after <= until_first_leaves + ms(50),
        "{refused:?}"
    );
    sleep(refused.retry_after + ms(100)).await;
    // The first hit has left, the second (400 ms younger) is still counted.
    assert_eq!(
        s.hit("client", 2, window).await.unwrap(),
        RateDecision {
            allowed: true,
            count: 2,
            retry_after: Duration::ZERO,
        }
    );
}

async fn use_once_detects_replay(s: Arc<dyn SharedState>) {
    assert!(s.use_once("jti-1", LONG).await.unwrap());
    assert!(!s.use_once("jti-1", LONG).await.unwrap());
    assert!(!s.use_once("jti-1", LONG).await.unwrap());
    assert!(s.use_once("jti-2", LONG).await.unwrap());
    // Namespaces are separate: an id and a reservation key may coincide.
    assert!(s.reserve("jti-2", "x", LONG).await.unwrap());
    // After its TTL an id is forgotten (its token has expired by then anyway).
    assert!(s.use_once("nonce", ms(250)).await.unwrap());
    assert!(!s.use_once("nonce", ms(250)).await.unwrap());
    sleep(ms(450)).await;
    assert!(s.use_once("nonce", ms(250)).await.unwrap());
}

async fn lead_one_at_a_time(s: Arc<dyn SharedState>) {
    let t1 = s
        .lead("sweep", "replica-a", LONG)
        .await
        .unwrap()
        .expect("a leads");
    assert_eq!(s.lead("sweep", "replica-b", LONG).await.unwrap(), None);
    // Renewal keeps the token.
    assert_eq!(s.lead("sweep", "replica-a", LONG).await.unwrap(), Some(t1));
    assert_eq!(s.lead("sweep", "replica-a", LONG).await.unwrap(), Some(t1));
    // Resigning someone else's lease does nothing.
    s.resign("sweep", "replica-b").await.unwrap();
    assert_eq!(s.lead("sweep", "replica-b", LONG).await.unwrap(), None);
    s.resign("sweep", "replica-a").await.unwrap();
    let t2 = s
        .lead("sweep", "replica-b", LONG)
        .await
        .unwrap()
        .expect("b leads");
    assert!(t2 > t1, "new leader, larger token: {t2} > {t1}");
    assert_eq!(s.lead("sweep", "replica-a", LONG).await.unwrap(), None);
    // Even the previous leader coming back gets a new, larger token.
    s.resign("sweep", "replica-b").await.unwrap();
    let t3 = s
        .lead("sweep", "replica-a", LONG)
        .await
        .unwrap()
        .expect("a leads again");
    assert!(t3 > t2, "{t3} > {t2}");
    // Leases are per name.
    assert!(s.lead("batch", "replica-b", LONG).await.unwrap().is_some());
    // Resigning a lease one does not have is fine.
    s.resign("nothing", "replica-a").await.unwrap();
}

async fn lead_expires(s: Arc<dyn SharedState>) {
    let t1 = s
        .lead("sweep", "replica-a", ms(250))
        .await
        .unwrap()
        .expect("a leads");
    assert_eq!(s.lead("sweep", "replica-b", ms(250)).await.unwrap(), None);
    sleep(ms(450)).await;
    let t2 = s
        .lead("sweep", "replica-b", LONG)
        .await
        .unwrap()
        .expect("b leads");
    assert!(t2 > t1, "{t2} > {t1}");
    // The old leader finds out on renewal.
    assert_eq!(s.lead("sweep", "replica-a", ms(250)).await.unwrap(), None);
    assert_eq!(s.lead("sweep", "replica-b", LONG).await.unwrap(), Some(t2));
}

async fn lead_renewal_extends(s: Arc<dyn SharedState>) {
    let t1 = s
        .lead("sweep", "replica-a", ms(500))
        .await
        .unwrap()
        .expect("a leads");
    sleep(ms(300)).await;
    assert_eq!(
        s.lead("sweep", "replica-a", ms(500)).await.unwrap(),
        Some(t1)
    );
    sleep(ms(300)).await;
    // 600 ms after acquiring, 300 ms into the renewed lease.
    assert_eq!(s.lead("sweep", "replica-b", ms(500)).await.unwrap(), None);
}

async fn reserve_race_has_one_winner(s: Arc<dyn SharedState>) {
    const TASKS: usize = 50;
    let barrier = Arc::new(Barrier::new(TASKS));
    let handles: Vec<_> = (0..TASKS)
        .map(|i| {
            let s = Arc::clone(&s);
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                let holder = format!("job-{i}");
                let won = s.reserve("contended", &holder, LONG).await.unwrap();
                (holder, won)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for handle in handles {
        let (holder, won) = handle.await.unwrap();
        if won {
            winners.push(holder);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one winner: {winners:?}");
    assert_eq!(
        s.holder("contended").await.unwrap(),
        Some(winners[0].clone())
    );
}

async fn lead_race_has_one_leader(s: Arc<dyn SharedState>) {
    const TASKS: usize = 50;
    let barrier = Arc::new(Barrier::new(TASKS));
    let handles: Vec<_> = (0..TASKS)
        .map(|i| {
            let s = Arc::clone(&s);
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                s.lead("sweep", &format!("replica-{i}"), LONG)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut tokens = Vec::new();
    for handle in handles {
        if let Some(token) = handle.await.unwrap() {
            tokens.push(token);
        }
    }
    assert_eq!(tokens.len(), 1, "exactly one leader: {tokens:?}");
}

async fn use_once_race_has_one_first_use(s: Arc<dyn SharedState>) {
    const TASKS: usize = 50;
    let barrier = Arc::new(Barrier::new(TASKS));
    let handles: Vec<_> = (0..TASKS)
        .map(|_| {
            let s = Arc::clone(&s);
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                s.use_once("nonce", LONG).await.unwrap()
            })
        })
        .collect();
    let mut firsts = 0;
    for handle in handles {
        if handle.await.unwrap() {
            firsts += 1;
        }
    }
    assert_eq!(firsts, 1);
}

async fn hit_race_counts_exactly(s: Arc<dyn SharedState>) {
    const TASKS: usize = 50;
    const LIMIT: u32 = 7;
    let barrier = Arc::new(Barrier::new(TASKS));
    let handles: Vec<_> = (0..TASKS)
        .map(|_| {
            let s = Arc::clone(&s);
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                s.hit("client", LIMIT, LONG).await.unwrap()
            })
        })
        .collect();
    let mut allowed_counts = HashSet::new();
    let mut refused = 0;
    for handle in handles {
        let d = handle.await.unwrap();
        if d.allowed {
            // Each allowed hit saw a distinct count: no two slipped in at once.
            assert!(allowed_counts.insert(d.count), "duplicate count {d:?}");
        } else {
            assert_eq!(d.count, LIMIT);
            refused += 1;
        }
    }
    assert_eq!(allowed_counts, (1..=LIMIT).collect::<HashSet<_>>());
    assert_eq!(refused, TASKS - LIMIT as usize);
}

async fn ping_answers(s: Arc<dyn SharedState>) {
    s.ping().await.unwrap();
}

/// Runs each suite function once per implementation, as `memory::name` and `redis::name`.
macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::memory_store()).await;
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::redis_store().await).await;
                }
            )*
        }
    };
}

suite!(
    reserve_is_exclusive,
    release_only_by_holder,
    reservation_expires,
    re_reserve_refreshes_ttl,
    extend_only_by_holder,
    hit_allows_exactly_limit,
    hit_window_slides,
    use_once_detects_replay,
    lead_one_at_a_time,
    lead_expires,
    lead_renewal_extends,
    reserve_race_has_one_winner,
    lead_race_has_one_leader,
    use_once_race_has_one_first_use,
    hit_race_counts_exactly,
    ping_answers,
);

// ---------------------------------------------------------------------------------------
// Redis-only behaviour.
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn redis_unreachable_is_unavailable_quickly() {
    let started = Instant::now();
    let err = RedisShared::connect(
        "redis://127.0.0.1:1",
        &unique_prefix(),
        Duration::from_secs(1),
    )
    .await
    .unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(err, SharedError::Unavailable(_)), "{err:?}");
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
}

#[tokio::test]
async fn redis_silent_server_is_unavailable_within_timeout() {
    // Something accepts the connection but never answers (a hung server, or a port that is
    // not Redis): only the timeouts can end the attempt.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            sockets.push(socket);
        }
    });
    let started = Instant::now();
    let err = RedisShared::connect(&format!("redis://{addr}"), &unique_prefix(), ms(500))
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    held.abort();
    assert!(matches!(err, SharedError::Unavailable(_)), "{err:?}");
    assert!(
        elapsed >= ms(400),
        "gave up before the timeout: {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
}

/// A TCP proxy to Redis whose link can stall: while stalled, bytes wait in the proxy (as on
/// a congested or partitioned network) instead of being delivered; resumed, they flow.
struct StallingProxy {
    addr: SocketAddr,
    stalled: watch::Sender<bool>,
    accept: tokio::task::JoinHandle<()>,
}

impl StallingProxy {
    async fn start(upstream: String) -> StallingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stalled, watching) = watch::channel(false);
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(pump(client_read, server_write, watching.clone()));
                tokio::spawn(pump(server_read, client_write, watching.clone()));
            }
        });
        StallingProxy {
            addr,
            stalled,
            accept,
        }
    }

    fn stall(&self, stalled: bool) {
        self.stalled.send_replace(stalled);
    }
}

impl Drop for StallingProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Copies `from` to `to`, holding each chunk while the link is stalled. Uses the readiness
/// API rather than `AsyncReadExt` so the test needs no tokio features beyond `net`.
async fn pump(
    from: tokio::net::tcp::OwnedReadHalf,
    to: tokio::net::tcp::OwnedWriteHalf,
    mut stalled: watch::Receiver<bool>,
) {
    let mut buf = vec![0_u8; 16 * 1024];
    loop {
        if from.readable().await.is_err() {
            return;
        }
        let n = match from.try_read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => return,
        };
        if stalled.wait_for(|stalled| !*stalled).await.is_err() {
            return;
        }
        let mut sent = 0;
        while sent < n {
            if to.writable().await.is_err() {
                return;
            }
            match to.try_write(&buf[sent..n]) {
                Ok(written) => sent += written,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stalled_link_is_unavailable_then_recovers() {
    let url = redis_url();
    // host:port of the test server, to point the proxy at and to swap for the proxy's.
    let upstream = url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.rsplit('@').next())
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_owned();
    let proxy = StallingProxy::start(upstream.clone()).await;
    let via_proxy = url.replacen(&upstream, &proxy.addr.to_string(), 1);
    let s = RedisShared::connect(&via_proxy, &unique_prefix(), ms(500))
        .await
        .unwrap();
    assert!(s.reserve("node", "job-a", LONG).await.unwrap());

    proxy.stall(true);
    for _ in 0..2 {
        let started = Instant::now();
        let err = s.holder("node").await.unwrap_err();
        let elapsed = started.elapsed();
        assert!(matches!(err, SharedError::Unavailable(_)), "{err:?}");
        assert!(elapsed < Duration::from_millis(1_500), "took {elapsed:?}");
    }
    let err = s.ping().await.unwrap_err();
    assert!(matches!(err, SharedError::Unavailable(_)), "{err:?}");

    proxy.stall(false);
    // The manager may need a call or two to notice and reconnect; after that every answer
    // must be the right one (no late reply to a timed-out call mistaken for a new one).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match s.holder("node").await {
            Ok(holder) => {
                assert_eq!(holder.as_deref(), Some("job-a"));
                break;
            }
            Err(SharedError::Unavailable(_)) if Instant::now() < deadline => sleep(ms(100)).await,
            Err(e) => panic!("did not recover: {e:?}"),
        }
    }
    assert!(!s.reserve("node", "job-b", LONG).await.unwrap());
    assert!(s.use_once("id", LONG).await.unwrap());
    assert!(!s.use_once("id", LONG).await.unwrap());
    assert_eq!(s.hit("client", 5, LONG).await.unwrap().count, 1);
    assert_eq!(s.holder("node").await.unwrap().as_deref(), Some("job-a"));
    assert!(s.release("node", "job-a").await.unwrap());
    assert_eq!(s.holder("node").await.unwrap(), None);
    s.ping().await.unwrap();
}

#[tokio::test]
async fn redis_errors_and_debug_hide_the_password() {
    // Bad URL: the error must not echo it.
    let err = RedisShared::connect("rediss-nope://:hunter2secret@[bad", "p", ms(500))
        .await
        .unwrap_err();
    assert!(matches!(err, SharedError::Unavailable(_)), "{err:?}");
    assert!(
        !format!("{err} {err:?}").contains("hunter2secret"),
        "{err:?}"
    );

    // A password the server refuses (the test server has none, or another one).
    let url = redis_url().replacen("redis://", "redis://:hunter2secret@", 1);
    if let Err(err) = RedisShared::connect(&url, "p", Duration::from_secs(2)).await {
        assert!(matches!(err, SharedError::Unavailable(_)), "{err:?}");
        assert!(
            !format!("{err} {err:?}").contains("hunter2secret"),
            "{err:?}"
        );
    }

    let store = RedisShared::connect(&redis_url(), "debug-prefix", Duration::from_secs(2))
        .await
        .unwrap();
    let shown = format!("{store:?}");
    assert!(shown.contains("debug-prefix"), "{shown}");
    assert!(!shown.contains("127.0.0.1"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_prefixes_isolate() {
    let prefix_a = unique_prefix();
    let prefix_b = unique_prefix();
    let a = RedisShared::connect(&redis_url(), &prefix_a, Duration::from_secs(2))
        .await
        .unwrap();
    let a_again = RedisShared::connect(&redis_url(), &prefix_a, Duration::from_secs(2))
        .await
        .unwrap();
    let b = RedisShared::connect(&redis_url(), &prefix_b, Duration::from_secs(2))
        .await
        .unwrap();
    assert!(a.reserve("node", "job-a", LONG).await.unwrap());
    // Same prefix (another replica): sees the hold.
    assert!(!a_again.reserve("node", "job-b", LONG).await.unwrap());
    assert_eq!(
        a_again.holder("node").await.unwrap().as_deref(),
        Some("job-a")
    );
    // Another prefix: does not.
    assert_eq!(b.holder("node").await.unwrap(), None);
    assert!(b.reserve("node", "job-b", LONG).await.unwrap());
    assert!(a.use_once("id", LONG).await.unwrap());
    assert!(!a_again.use_once("id", LONG).await.unwrap());
    assert!(b.use_once("id", LONG).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_replicas_share_rate_and_lease() {
    // Two connections with one prefix behave as two coordinator replicas.
    let prefix = unique_prefix();
    let r1 = RedisShared::connect(&redis_url(), &prefix, Duration::from_secs(2))
        .await
        .unwrap();
    let r2 = RedisShared::connect(&redis_url(), &prefix, Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(r1.hit("client", 2, LONG).await.unwrap().count, 1);
    assert_eq!(r2.hit("client", 2, LONG).await.unwrap().count, 2);
    assert!(!r1.hit("client", 2, LONG).await.unwrap().allowed);
    assert!(!r2.hit("client", 2, LONG).await.unwrap().allowed);

    let token = r1
        .lead("sweep", "r1", LONG)
        .await
        .unwrap()
        .expect("r1 leads");
    assert_eq!(r2.lead("sweep", "r2", LONG).await.unwrap(), None);
    r1.resign("sweep", "r1").await.unwrap();
    let next = r2
        .lead("sweep", "r2", LONG)
        .await
        .unwrap()
        .expect("r2 leads");
    assert!(next > token, "{next} > {token}");
}
