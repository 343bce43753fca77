//! The database layer, one suite run against PostgreSQL (a fresh schema per test) and
//! SQLite (a fresh file): the two migrations define the same tables, and every guard
//! (slot uniqueness, compare-and-set transitions, update de-duplication, batch ids,
//! processed events) holds on both.

mod common;

use common::{POSTGRES, temp_dir, unique};
use cyxwiz_coordinator::{
    store::*,
    types::{Hardware, JobConfig, JobId, JobState, Priority},
};

async fn postgres() -> Store {
    Store::connect(
        POSTGRES,
        StoreOptions {
            schema: Some(unique("s")),
            ..StoreOptions::default()
        },
    )
    .await
    .expect("PostgreSQL at 127.0.0.1:5432")
}

async fn sqlite() -> Store {
    let dir = temp_dir("store");
    Store::connect(
        &format!("sqlite:{}", dir.join("c.db").display()),
        StoreOptions::default(),
    )
    .await
    .unwrap()
}

fn node(owner: &str) -> NodeRecord {
    NodeRecord {
        owner: owner.into(),
        endpoint: "https://n:1".into(),
        tls_fingerprint: [3; 32],
        hardware: Hardware {
            cpu_cores: 4,
            ram_mb: 8_192,
            gpu_count: 1,
            vram_mb: 4_096,
            datacenter_gpu: true,
        },
        capacity: 2,
        region: "eu".into(),
        price_bps: 10_000,
        registered_at: 1,
        last_heartbeat: 2,
        running_jobs: 0,
        heartbeats: 0,
        chain: ChainNode {
            stake: u64::MAX / 4,
            status: ChainStatus::Active,
            heartbeat_secs: 3,
            reputation: 777,
            tier: 2,
            synced_at: 4,
        },
        rating_sum: 0,
        rating_count: 0,
    }
}

fn job(node: &str) -> JobRecord {
    let config = JobConfig {
        module_hash: [1; 32],
        module_size: 10,
        dataset_hash: [2; 32],
        dataset_size: 20,
        epochs: 100,
        hardware: Hardware::default(),
        max_price: 1_000,
        priority: Priority::High,
        estimated_secs: 60,
        region: String::new(),
    };
    JobRecord::reserved(
        JobId::random(),
        "engine".into(),
        config,
        900,
        node.into(),
        10,
        5,
    )
}

async fn records_round_trip(s: Store) {
    let n = node("alice");
    s.upsert_node(&n).await.unwrap();
    assert_eq!(s.node("alice").await.unwrap().unwrap(), n);
    let j = job("alice");
    s.create_reserved_job(&j, 0).await.unwrap();
    assert_eq!(s.job(&j.id).await.unwrap().unwrap(), j);
    assert!(s.heartbeat("alice", 99, 1).await.unwrap());
    assert!(!s.heartbeat("nobody", 99, 1).await.unwrap());
    assert_eq!(s.node("alice").await.unwrap().unwrap().last_heartbeat, 99);
}

async fn a_slot_holds_one_job_at_a_time(s: Store) {
    s.upsert_node(&node("bob")).await.unwrap();
    let (a, b) = (job("bob"), job("bob"));
    s.create_reserved_job(&a, 0).await.unwrap();
    assert!(matches!(
        s.create_reserved_job(&b, 0).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(
        s.job(&b.id).await.unwrap().is_none(),
        "nothing of the refused job is written"
    );
    s.create_reserved_job(&b, 1).await.unwrap();
    assert_eq!(s.active_slots().await.unwrap().len(), 2);
    let bobs = s.jobs_of_node("bob", &[JobState::Reserved]).await.unwrap();
    let mut ids: Vec<JobId> = bobs.iter().map(|j| j.id).collect();
    ids.sort();
    let mut want = vec![a.id, b.id];
    want.sort();
    assert_eq!(ids, want);
    assert!(
        s.jobs_of_node("bob", &[JobState::Running])
            .await
            .unwrap()
            .is_empty()
    );
    // Ending a job frees its slot.
    assert!(
        s.transition(&a.id, &[JobState::Reserved], JobState::Expired, "lapsed")
            .await
            .unwrap()
    );
    let c = job("bob");
    s.create_reserved_job(&c, 0).await.unwrap();
    assert_eq!(s.job_slot(&c.id).await.unwrap(), Some(("bob".into(), 0)));
}

async fn transitions_are_compare_and_set(s: Store) {
    s.upsert_node(&node("carol")).await.unwrap();
    let j = job("carol");
    s.create_reserved_job(&j, 0).await.unwrap();
    assert!(
        s.transition(&j.id, &[JobState::Reserved], JobState::Confirming, "")
            .await
            .unwrap()
    );
    assert!(
        !s.transition(&j.id, &[JobState::Reserved], JobState::Confirming, "")
            .await
            .unwrap()
    );
    let conf = Confirmation {
        escrow_signature: "sig".into(),
        user_token: String::new(),
        escrow_timeout_secs: 1_000,
        assign_signature: "asig".into(),
    };
    assert!(s.confirm_assigned(&j.id, &conf).await.unwrap());
    assert!(!s.confirm_assigned(&j.id, &conf).await.unwrap());
    assert!(s.mark_running(&j.id, "carol", 7).await.unwrap());
    assert!(!s.mark_running(&j.id, "mallory", 7).await.unwrap());
    assert_eq!(s.record_progress(&j.id, 10, &[9; 32]).await.unwrap(), 10);
    assert_eq!(
        s.record_progress(&j.id, 5, &[8; 32]).await.unwrap(),
        10,
        "progress never goes back"
    );
    assert_eq!(
        s.progress(&j.id).await.unwrap(),
        vec![(5, [8; 32]), (10, [9; 32])]
    );
    let got = s.job(&j.id).await.unwrap().unwrap();
    assert_eq!(got.state, JobState::Running);
    assert_eq!(got.escrow_timeout_secs, Some(1_000));
    assert_eq!(got.last_checkpoint, Some([9; 32]));
    let pay = Payment {
        job_id: j.id,
        kind: "completed".into(),
        to_node: 810,
        to_user: 0,
        fee: 90,
        signature: "p".into(),
    };
    assert!(s.record_payment(&pay).await.unwrap());
    assert!(
        !s.record_payment(&pay).await.unwrap(),
        "one payment per job"
    );
    assert_eq!(s.payment(&j.id).await.unwrap(), Some(pay));
}

async fn reputation_updates_are_deduplicated_and_batched_once(s: Store) {
    let u = |key: &str, owner: &str| NewUpdate {
        dedup_key: key.into(),
        node_owner: owner.into(),
        kind: UpdateKind::Completed {
            actual_secs: 10,
            estimated_secs: 12,
        },
    };
    assert!(s.enqueue_reputation(&u("completed:1", "n1")).await.unwrap());
    assert!(!s.enqueue_reputation(&u("completed:1", "n1")).await.unwrap());
    assert!(s.enqueue_reputation(&u("completed:2", "n2")).await.unwrap());
    let pending = s.pending_updates(10).await.unwrap();
    assert_eq!(pending.len(), 2);
    let ids: Vec<i64> = pending.iter().map(|p| p.id).collect();
    let (batch, rows) = s.create_batch(&ids, "r1").await.unwrap();
    assert_eq!(batch, 1);
    assert_eq!(rows.len(), 2);
    // A second creator with the same (now batched) ids gets an empty batch 2.
    let (batch2, rows2) = s.create_batch(&ids, "r2").await.unwrap();
    assert_eq!((batch2, rows2.len()), (2, 0));
    assert!(s.pending_updates(10).await.unwrap().is_empty());
    assert_eq!(s.unapplied_batches().await.unwrap().len(), 2);
    assert!(s.batch_applied(1, Some("sig")).await.unwrap());
    assert!(!s.batch_applied(1, None).await.unwrap());
    assert_eq!(s.batch(1).await.unwrap().unwrap().state, "applied");
    assert_eq!(s.unapplied_batches().await.unwrap()[0].0.batch_id, 2);
}

async fn events_and_operations_are_recorded_once(s: Store) {
    assert!(s.mark_event("sig", 0, "JobAccepted").await.unwrap());
    assert!(!s.mark_event("sig", 0, "JobAccepted").await.unwrap());
    assert!(s.event_processed("sig", 0).await.unwrap());
    assert!(!s.event_processed("sig", 1).await.unwrap());
    assert_eq!(s.begin_op("timeout_refund:x").await.unwrap(), None);
    assert_eq!(
        s.begin_op("timeout_refund:x").await.unwrap(),
        Some(OpState::Pending)
    );
    s.finish_op("timeout_refund:x", OpState::Done, Some("s"), "")
        .await
        .unwrap();
    assert_eq!(
        s.begin_op("timeout_refund:x").await.unwrap(),
        Some(OpState::Done)
    );
}

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod on_postgres { use super::*; $( #[tokio::test] async fn $name() { super::$name(postgres().await).await } )* }
        mod on_sqlite { use super::*; $( #[tokio::test] async fn $name() { super::$name(sqlite().await).await } )* }
    };
}

both!(
    records_round_trip,
    a_slot_holds_one_job_at_a_time,
    transitions_are_compare_and_set,
    reputation_updates_are_deduplicated_and_batched_once,
    events_and_operations_are_recorded_once,
);

#[tokio::test]
async fn both_migrations_define_the_same_tables_and_columns() {
    use sqlx::Row;
    let pg = postgres().await;
    let lite = sqlite().await;
    let schema: String = sqlx::query("SELECT current_schema()::text AS s")
        .fetch_one(pg.pool())
        .await
        .unwrap()
        .try_get("s")
        .unwrap();
    let mut pg_cols: Vec<String> = sqlx::query(
        "SELECT (table_name || '.' || column_name)::text AS c FROM information_schema.columns
         WHERE table_schema = $1 AND table_name <> '_sqlx_migrations'",
    )
    .bind(schema)
    .fetch_all(pg.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| r.try_get::<String, _>("c").unwrap())
    .collect();
    let mut lite_cols: Vec<String> = sqlx::query(
        "SELECT m.name || '.' || p.name AS c FROM sqlite_master m, pragma_table_info(m.name) p
         WHERE m.type = 'table' AND m.name NOT IN ('_sqlx_migrations', 'sqlite_sequence')",
    )
    .fetch_all(lite.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| r.try_get::<String, _>("c").unwrap())
    .collect();
    pg_cols.sort();
    lite_cols.sort();
    assert!(pg_cols.len() > 80, "{pg_cols:?}");
    assert_eq!(pg_cols, lite_cols);
}

#[tokio::test]
async fn a_bad_url_or_schema_is_a_clear_error() {
    assert!(matches!(
        Store::connect("mysql://x", StoreOptions::default()).await,
        Err(StoreError::UnsupportedUrl)
    ));
    let err = Store::connect(
        POSTGRES,
        StoreOptions {
            schema: Some("bad; DROP".into()),
            ..StoreOptions::default()
        },
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("invalid schema"), "{err}");
    let err = Store::connect(
        "postgres://postgres@127.0.0.1:1/test",
        StoreOptions {
            acquire_timeout: std::time::Duration::from_secs(2),
            ..StoreOptions::default()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}
