//! The coordinator's database: jobs, nodes, assignments, progress, payments, reputation
//! updates and batches, chain operations and processed events.
//!
//! One implementation over sqlx's `Any` driver serves PostgreSQL (production, several
//! replicas) and SQLite (embedded default): the SQL is the common subset (`$n`
//! placeholders, `ON CONFLICT`, `RETURNING`, partial unique indexes), the migrations in
//! `migrations/{postgres,sqlite}` differ only in column types. Every state change is a
//! compare-and-set on the current state, so replicas racing on one row cannot both win.

use std::{str::FromStr, time::Duration};

use sqlx::{
    AnyPool, Row,
    any::{AnyConnectOptions, AnyPoolOptions, AnyRow},
};

use crate::types::{Hardware, JobConfig, JobId, JobState, Priority};

mod rows;

pub use rows::*;

static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(String),
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error("unsupported database URL (use postgres:// or sqlite:)")]
    UnsupportedUrl,
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict("unique constraint")
            }
            // Postgres shutting down or restarting (57P0x), connection exceptions (08xxx).
            sqlx::Error::Database(db)
                if db
                    .code()
                    .is_some_and(|c| c.starts_with("57P") || c.starts_with("08")) =>
            {
                StoreError::Unavailable(e.to_string())
            }
            sqlx::Error::Io(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Tls(_) => StoreError::Unavailable(e.to_string()),
            _ => StoreError::Database(e.to_string()),
        }
    }
}

type Result<T> = std::result::Result<T, StoreError>;

/// Pool settings.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// PostgreSQL schema to use (created if missing): lets tests and deployments share a
    /// database. Ignored for SQLite.
    pub schema: Option<String>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
            schema: None,
        }
    }
}

/// The database. Cheap to clone (a pool handle).
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

fn now_ms() -> i64 {
    cyxwiz_proto::auth::now_ms()
}

fn valid_schema(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !s.as_bytes()[0].is_ascii_digit()
}

impl Store {
    /// Connects and applies the migrations. `url`: `postgres://…` or `sqlite:path` (the
    /// file is created if missing).
    pub async fn connect(url: &str, options: StoreOptions) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        let mut url = url.to_string();
        match backend {
            Backend::Postgres => {
                if let Some(schema) = &options.schema {
                    if !valid_schema(schema) {
                        return Err(StoreError::Database(format!(
                            "invalid schema name {schema:?}"
                        )));
                    }
                    // Create the schema over a plain connection, then point every pooled
                    // connection at it.
                    let admin = AnyPoolOptions::new()
                        .max_connections(1)
                        .acquire_timeout(options.acquire_timeout)
                        .connect(&url)
                        .await?;
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "CREATE SCHEMA IF NOT EXISTS {schema}"
                    )))
                    .execute(&admin)
                    .await?;
                    admin.close().await;
                    let sep = if url.contains('?') { '&' } else { '?' };
                    url = format!("{url}{sep}options=-c%20search_path%3D{schema}");
                }
            }
            Backend::Sqlite => {
                if !url.contains("mode=") && !url.contains(":memory:") {
                    let sep = if url.contains('?') { '&' } else { '?' };
                    url = format!("{url}{sep}mode=rwc");
                }
            }
        }
        let connect = AnyConnectOptions::from_str(&url).map_err(StoreError::from)?;
        // SQLite has one writer: with several connections, concurrent write transactions
        // collide and SQLite's busy handler sleeps them (tens of milliseconds). One
        // connection queues them in the pool instead, which is both faster and fair.
        let max_connections = match backend {
            Backend::Sqlite => 1,
            Backend::Postgres => options.max_connections,
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(options.acquire_timeout)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the one writer; a busy writer is
                        // waited for rather than failing the request.
                        sqlx::query("PRAGMA journal_mode = WAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA synchronous = NORMAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA busy_timeout = 5000")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA foreign_keys = ON")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(connect)
            .await?;
        let migrator = match backend {
            Backend::Postgres => &POSTGRES_MIGRATIONS,
            Backend::Sqlite => &SQLITE_MIGRATIONS,
        };
        migrator
            .run(&pool)
            .await
            .map_err(|e| StoreError::Database(format!("migration failed: {e}")))?;
        Ok(Store { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// One round trip (readiness).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    // ── nodes ────────────────────────────────────────────────────────────

    /// Registers a node or updates its endpoint, key, capabilities and chain view.
    pub async fn upsert_node(&self, n: &NodeRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO nodes (owner, endpoint, tls_fingerprint, cpu_cores, ram_mb, gpu_count,
                 gpu_vram_mb, datacenter_gpu, capacity, region, price_bps, registered_at,
                 last_heartbeat, stake, chain_status, chain_heartbeat_secs, reputation, tier,
                 chain_synced_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                 $17, $18, $19)
             ON CONFLICT (owner) DO UPDATE SET endpoint = excluded.endpoint,
                 tls_fingerprint = excluded.tls_fingerprint, cpu_cores = excluded.cpu_cores,
                 ram_mb = excluded.ram_mb, gpu_count = excluded.gpu_count,
                 gpu_vram_mb = excluded.gpu_vram_mb, datacenter_gpu = excluded.datacenter_gpu,
                 capacity = excluded.capacity, region = excluded.region,
                 price_bps = excluded.price_bps, last_heartbeat = excluded.last_heartbeat,
                 stake = excluded.stake, chain_status = excluded.chain_status,
                 chain_heartbeat_secs = excluded.chain_heartbeat_secs,
                 reputation = excluded.reputation, tier = excluded.tier,
                 chain_synced_at = excluded.chain_synced_at",
        )
        .bind(&n.owner)
        .bind(&n.endpoint)
        .bind(n.tls_fingerprint.to_vec())
        .bind(i64::from(n.hardware.cpu_cores))
        .bind(i64::from(n.hardware.ram_mb))
        .bind(i64::from(n.hardware.gpu_count))
        .bind(i64::from(n.hardware.vram_mb))
        .bind(i64::from(n.hardware.datacenter_gpu))
        .bind(i64::from(n.capacity))
        .bind(&n.region)
        .bind(i64::from(n.price_bps))
        .bind(n.registered_at)
        .bind(n.last_heartbeat)
        .bind(to_i64(n.chain.stake)?)
        .bind(n.chain.status.as_str())
        .bind(n.chain.heartbeat_secs)
        .bind(i64::from(n.chain.reputation))
        .bind(i64::from(n.chain.tier))
        .bind(n.chain.synced_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Replaces a node's view of its chain accounts; false if the node is unknown.
    pub async fn update_node_chain(&self, owner: &str, c: &ChainNode) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE nodes SET stake = $1, chain_status = $2, chain_heartbeat_secs = $3,
                 reputation = $4, tier = $5, chain_synced_at = $6 WHERE owner = $7",
        )
        .bind(to_i64(c.stake)?)
        .bind(c.status.as_str())
        .bind(c.heartbeat_secs)
        .bind(i64::from(c.reputation))
        .bind(i64::from(c.tier))
        .bind(c.synced_at)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Records an off-chain heartbeat; false if the node is unknown.
    pub async fn heartbeat(&self, owner: &str, at: i64, running_jobs: u32) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE nodes SET last_heartbeat = $1, running_jobs = $2, heartbeats = heartbeats + 1
             WHERE owner = $3",
        )
        .bind(at)
        .bind(i64::from(running_jobs))
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn node(&self, owner: &str) -> Result<Option<NodeRecord>> {
        let row = sqlx::query("SELECT * FROM nodes WHERE owner = $1")
            .bind(owner)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(node_from_row).transpose()
    }

    /// Every node (the scheduler's candidate set is loaded from here).
    pub async fn nodes(&self) -> Result<Vec<NodeRecord>> {
        let rows = sqlx::query("SELECT * FROM nodes ORDER BY owner")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(node_from_row).collect()
    }

    /// Nodes by reputation, best first, then by completed jobs.
    pub async fn leaderboard(&self, limit: u32) -> Result<Vec<NodeRecord>> {
        let rows = sqlx::query("SELECT * FROM nodes ORDER BY reputation DESC, owner LIMIT $1")
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(node_from_row).collect()
    }

    pub async fn node_count(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM nodes")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?)
    }

    /// Every active (node, slot) pair.
    pub async fn active_slots(&self) -> Result<Vec<(String, u32)>> {
        let rows = sqlx::query("SELECT node_owner, slot FROM assignments WHERE active = 1")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("node_owner")?, to_u32(r.try_get("slot")?)?)))
            .collect()
    }

    // ── jobs ─────────────────────────────────────────────────────────────

    /// Inserts a reserved job and its assignment to `(node, slot)` in one transaction.
    /// `Conflict` if the slot (or the job id) is taken: nothing is written then.
    pub async fn create_reserved_job(&self, job: &JobRecord, slot: u32) -> Result<()> {
        let node = job
            .node_owner
            .as_deref()
            .ok_or(StoreError::Conflict("a reserved job needs a node"))?;
        let mut tx = self.pool.begin().await?;
        insert_job(&mut tx, job).await?;
        sqlx::query(
            "INSERT INTO assignments (job_id, node_owner, slot, active, created_at)
             VALUES ($1, $2, $3, 1, $4)",
        )
        .bind(job.id.hex())
        .bind(node)
        .bind(i64::from(slot))
        .bind(job.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn job(&self, id: &JobId) -> Result<Option<JobRecord>> {
        let row = sqlx::query("SELECT * FROM jobs WHERE id = $1")
            .bind(id.hex())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(job_from_row).transpose()
    }

    /// Jobs, newest first, optionally of one engine wallet and/or one state.
    pub async fn jobs(
        &self,
        engine: Option<&str>,
        state: Option<JobState>,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<JobRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM jobs WHERE ($1 = '' OR engine_wallet = $1) AND ($2 = '' OR state = $2)
             ORDER BY created_at DESC, id LIMIT $3 OFFSET $4",
        )
        .bind(engine.unwrap_or(""))
        .bind(state.map(JobState::as_str).unwrap_or(""))
        .bind(i64::from(limit))
        .bind(i64::from(offset))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(job_from_row).collect()
    }

    /// Jobs in any of `states`, oldest update first (periodic sweeps).
    pub async fn jobs_in(&self, states: &[JobState], limit: u32) -> Result<Vec<JobRecord>> {
        let list = state_list(states);
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT * FROM jobs WHERE state IN ({list}) ORDER BY updated_at, id LIMIT $1"
        )))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(job_from_row).collect()
    }

    /// The jobs of node `owner` in any of `states`, oldest update first.
    pub async fn jobs_of_node(&self, owner: &str, states: &[JobState]) -> Result<Vec<JobRecord>> {
        let list = state_list(states);
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT * FROM jobs WHERE node_owner = $1 AND state IN ({list}) ORDER BY updated_at, id"
        )))
        .bind(owner)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(job_from_row).collect()
    }

    pub async fn count_jobs_by_state(&self) -> Result<Vec<(JobState, i64)>> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let s: String = r.try_get("state")?;
                Ok((
                    JobState::parse(&s).ok_or_else(|| StoreError::Corrupt(s.clone()))?,
                    r.try_get("n")?,
                ))
            })
            .collect()
    }

    /// The node slot a job holds (or last held).
    pub async fn job_slot(&self, id: &JobId) -> Result<Option<(String, u32)>> {
        let row = sqlx::query(
            "SELECT node_owner, slot FROM assignments WHERE job_id = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(id.hex())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((r.try_get("node_owner")?, to_u32(r.try_get("slot")?)?)))
            .transpose()
    }

    /// Moves a job from one of `from` to `to` (compare-and-set); false if it was not in
    /// one of `from`. Leaving the node-holding states ends its active assignment.
    pub async fn transition(
        &self,
        id: &JobId,
        from: &[JobState],
        to: JobState,
        detail: &str,
    ) -> Result<bool> {
        let now = now_ms();
        let list = state_list(from);
        let finished = to.is_terminal().then_some(now);
        let mut tx = self.pool.begin().await?;
        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE jobs SET state = $1, detail = $2, updated_at = $3,
                 finished_at = COALESCE($4, finished_at)
             WHERE id = $5 AND state IN ({list})"
        )))
        .bind(to.as_str())
        .bind(detail)
        .bind(now)
        .bind(finished)
        .bind(id.hex())
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 0 {
            return Ok(false);
        }
        if !to.holds_node() {
            end_assignment(&mut tx, id, to.as_str(), now).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Confirming → Assigned with what the escrow and the assignment transaction showed.
    pub async fn confirm_assigned(&self, id: &JobId, c: &Confirmation) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE jobs SET state = 'assigned', escrow_signature = $1, user_token = $2,
                 escrow_timeout_secs = $3, assign_signature = $4, updated_at = $5, detail = ''
             WHERE id = $6 AND state = 'confirming'",
        )
        .bind(&c.escrow_signature)
        .bind(&c.user_token)
        .bind(c.escrow_timeout_secs)
        .bind(&c.assign_signature)
        .bind(now_ms())
        .bind(id.hex())
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Records when a job's escrow times out (seen in its `EscrowCreated` event).
    pub async fn set_escrow_timeout(&self, id: &JobId, timeout_secs: i64) -> Result<()> {
        sqlx::query("UPDATE jobs SET escrow_timeout_secs = $1 WHERE id = $2")
            .bind(timeout_secs)
            .bind(id.hex())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Jobs whose escrow timed out by `chain_secs` and that are not settled yet.
    pub async fn timed_out_jobs(&self, chain_secs: i64, limit: u32) -> Result<Vec<JobRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM jobs WHERE escrow_timeout_secs IS NOT NULL AND escrow_timeout_secs <= $1
                 AND state IN ('assigned', 'running', 'expired', 'reserved')
             ORDER BY escrow_timeout_secs, id LIMIT $2",
        )
        .bind(chain_secs)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(job_from_row).collect()
    }

    /// Marks the uptime period `period` reported for every node, returning each node's
    /// heartbeats since the last report.
    pub async fn take_heartbeats(&self) -> Result<Vec<(String, i64)>> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query("SELECT owner, heartbeats - heartbeats_reported AS n FROM nodes")
            .fetch_all(&mut *tx)
            .await?;
        sqlx::query("UPDATE nodes SET heartbeats_reported = heartbeats")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        rows.iter()
            .map(|r| Ok((r.try_get("owner")?, r.try_get("n")?)))
            .collect()
    }

    /// Moves an unaccepted job to another node slot (its old assignment ends).
    /// `Conflict` if the new slot is taken.
    pub async fn reassign(
        &self,
        id: &JobId,
        from_node: &str,
        to_node: &str,
        slot: u32,
        assign_signature: &str,
    ) -> Result<bool> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let r = sqlx::query(
            "UPDATE jobs SET node_owner = $1, assign_signature = $2, rematches = rematches + 1,
                 updated_at = $3, detail = 'node re-matched before acceptance'
             WHERE id = $4 AND node_owner = $5 AND state = 'assigned'",
        )
        .bind(to_node)
        .bind(assign_signature)
        .bind(now)
        .bind(id.hex())
        .bind(from_node)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 0 {
            return Ok(false);
        }
        end_assignment(&mut tx, id, "rematched", now).await?;
        sqlx::query(
            "INSERT INTO assignments (job_id, node_owner, slot, active, created_at)
             VALUES ($1, $2, $3, 1, $4)",
        )
        .bind(id.hex())
        .bind(to_node)
        .bind(i64::from(slot))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The node accepted (JobAccepted on chain): Assigned → Running.
    pub async fn mark_running(&self, id: &JobId, node: &str, at: i64) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE jobs SET state = 'running', accepted_at = $1, updated_at = $2
             WHERE id = $3 AND node_owner = $4 AND state IN ('assigned', 'confirming')",
        )
        .bind(at)
        .bind(now_ms())
        .bind(id.hex())
        .bind(node)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Records a progress report (idempotent per epoch); returns the highest epoch
    /// reported so far.
    pub async fn record_progress(&self, id: &JobId, epoch: u32, hash: &[u8; 32]) -> Result<u32> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO progress (job_id, epoch, checkpoint_hash, reported_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT (job_id, epoch) DO NOTHING",
        )
        .bind(id.hex())
        .bind(i64::from(epoch))
        .bind(hash.to_vec())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE jobs SET epochs_reported = $1, last_checkpoint = $2, updated_at = $3
             WHERE id = $4 AND epochs_reported < $1",
        )
        .bind(i64::from(epoch))
        .bind(hash.to_vec())
        .bind(now)
        .bind(id.hex())
        .execute(&mut *tx)
        .await?;
        let n: i64 = sqlx::query("SELECT epochs_reported FROM jobs WHERE id = $1")
            .bind(id.hex())
            .fetch_one(&mut *tx)
            .await?
            .try_get("epochs_reported")?;
        tx.commit().await?;
        to_u32(n)
    }

    /// Progress reports of a job, by epoch.
    pub async fn progress(&self, id: &JobId) -> Result<Vec<(u32, [u8; 32])>> {
        let rows = sqlx::query(
            "SELECT epoch, checkpoint_hash FROM progress WHERE job_id = $1 ORDER BY epoch",
        )
        .bind(id.hex())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    to_u32(r.try_get("epoch")?)?,
                    hash32(r.try_get("checkpoint_hash")?)?,
                ))
            })
            .collect()
    }

    /// Progress anchored on chain (CheckpointAnchored).
    pub async fn record_anchor(&self, id: &JobId, epoch: u32, root: &[u8; 32]) -> Result<()> {
        sqlx::query(
            "UPDATE jobs SET epochs_anchored = $1, merkle_root = $2, updated_at = $3
             WHERE id = $4 AND epochs_anchored < $1",
        )
        .bind(i64::from(epoch))
        .bind(root.to_vec())
        .bind(now_ms())
        .bind(id.hex())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// What the node reported at completion.
    pub async fn record_final(
        &self,
        id: &JobId,
        weights: &[u8; 32],
        root: &[u8; 32],
    ) -> Result<()> {
        sqlx::query(
            "UPDATE jobs SET final_weights = $1, merkle_root = COALESCE(merkle_root, $2),
                 updated_at = $3 WHERE id = $4",
        )
        .bind(weights.to_vec())
        .bind(root.to_vec())
        .bind(now_ms())
        .bind(id.hex())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn set_rating(&self, id: &JobId, node: &str, stars: u32) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let r = sqlx::query("UPDATE jobs SET rating = $1 WHERE id = $2 AND rating IS NULL")
            .bind(i64::from(stars))
            .bind(id.hex())
            .execute(&mut *tx)
            .await?;
        if r.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE nodes SET rating_sum = rating_sum + $1, rating_count = rating_count + 1
             WHERE owner = $2",
        )
        .bind(i64::from(stars))
        .bind(node)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    // ── payments ─────────────────────────────────────────────────────────

    /// Records a settlement seen on chain; false if one was already recorded.
    pub async fn record_payment(&self, p: &Payment) -> Result<bool> {
        let r = sqlx::query(
            "INSERT INTO payments (job_id, kind, to_node, to_user, fee, signature, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (job_id) DO NOTHING",
        )
        .bind(p.job_id.hex())
        .bind(&p.kind)
        .bind(to_i64(p.to_node)?)
        .bind(to_i64(p.to_user)?)
        .bind(to_i64(p.fee)?)
        .bind(&p.signature)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn payment(&self, id: &JobId) -> Result<Option<Payment>> {
        let row = sqlx::query("SELECT * FROM payments WHERE job_id = $1")
            .bind(id.hex())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(Payment {
                job_id: *id,
                kind: r.try_get("kind")?,
                to_node: to_u64(r.try_get("to_node")?)?,
                to_user: to_u64(r.try_get("to_user")?)?,
                fee: to_u64(r.try_get("fee")?)?,
                signature: r.try_get("signature")?,
            })
        })
        .transpose()
    }

    // ── reputation ───────────────────────────────────────────────────────

    /// Queues a reputation update; false if `dedup_key` was queued before.
    pub async fn enqueue_reputation(&self, u: &NewUpdate) -> Result<bool> {
        let r = sqlx::query(
            "INSERT INTO reputation_updates (dedup_key, node_owner, kind, a, b, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (dedup_key) DO NOTHING",
        )
        .bind(&u.dedup_key)
        .bind(&u.node_owner)
        .bind(u.kind.name())
        .bind(u.kind.a())
        .bind(u.kind.b())
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Updates not yet in a batch, oldest first.
    pub async fn pending_updates(&self, limit: u32) -> Result<Vec<UpdateRow>> {
        let rows = sqlx::query(
            "SELECT * FROM reputation_updates WHERE batch_id IS NULL ORDER BY id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(update_from_row).collect()
    }

    /// Creates batch `max + 1` holding the pending updates `ids` (those still pending),
    /// in one transaction. Returns the id and the updates it holds.
    pub async fn create_batch(
        &self,
        ids: &[i64],
        created_by: &str,
    ) -> Result<(u64, Vec<UpdateRow>)> {
        let mut tx = self.pool.begin().await?;
        let next: i64 =
            sqlx::query("SELECT COALESCE(MAX(batch_id), 0) + 1 AS next FROM reputation_batches")
                .fetch_one(&mut *tx)
                .await?
                .try_get("next")?;
        // Two creators racing get the same id; the primary key lets only one insert.
        sqlx::query(
            "INSERT INTO reputation_batches (batch_id, state, created_by, created_at)
             VALUES ($1, 'pending', $2, $3)",
        )
        .bind(next)
        .bind(created_by)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        for id in ids {
            sqlx::query(
                "UPDATE reputation_updates SET batch_id = $1 WHERE id = $2 AND batch_id IS NULL",
            )
            .bind(next)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        let rows = sqlx::query("SELECT * FROM reputation_updates WHERE batch_id = $1 ORDER BY id")
            .bind(next)
            .fetch_all(&mut *tx)
            .await?;
        let updates = rows
            .iter()
            .map(update_from_row)
            .collect::<Result<Vec<_>>>()?;
        tx.commit().await?;
        Ok((to_u64(next)?, updates))
    }

    /// Batches not yet applied on chain, with their updates.
    pub async fn unapplied_batches(&self) -> Result<Vec<(Batch, Vec<UpdateRow>)>> {
        let rows = sqlx::query(
            "SELECT * FROM reputation_batches WHERE state = 'pending' ORDER BY batch_id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let batch = batch_from_row(r)?;
            let updates =
                sqlx::query("SELECT * FROM reputation_updates WHERE batch_id = $1 ORDER BY id")
                    .bind(to_i64(batch.batch_id)?)
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(update_from_row)
                    .collect::<Result<Vec<_>>>()?;
            out.push((batch, updates));
        }
        Ok(out)
    }

    pub async fn batch(&self, batch_id: u64) -> Result<Option<Batch>> {
        let row = sqlx::query("SELECT * FROM reputation_batches WHERE batch_id = $1")
            .bind(to_i64(batch_id)?)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(batch_from_row).transpose()
    }

    pub async fn batches(&self) -> Result<Vec<Batch>> {
        let rows = sqlx::query("SELECT * FROM reputation_batches ORDER BY batch_id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(batch_from_row).collect()
    }

    /// Records a submission attempt's failure (the batch stays pending).
    pub async fn batch_failed_attempt(&self, batch_id: u64, error: &str) -> Result<()> {
        sqlx::query(
            "UPDATE reputation_batches SET attempts = attempts + 1, last_error = $1
             WHERE batch_id = $2",
        )
        .bind(error)
        .bind(to_i64(batch_id)?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The batch is on chain (`signature` None: it was found already applied).
    pub async fn batch_applied(&self, batch_id: u64, signature: Option<&str>) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE reputation_batches SET state = 'applied', signature = COALESCE($1, signature),
                 applied_at = $2, attempts = attempts + 1 WHERE batch_id = $3 AND state = 'pending'",
        )
        .bind(signature)
        .bind(now_ms())
        .bind(to_i64(batch_id)?)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// The program refused the batch for good: it stops being retried and keeps its
    /// updates (nothing is lost; an operator sees the reason).
    pub async fn batch_refused(&self, batch_id: u64, error: &str) -> Result<()> {
        sqlx::query(
            "UPDATE reputation_batches SET state = 'refused', last_error = $1,
                 attempts = attempts + 1 WHERE batch_id = $2",
        )
        .bind(error)
        .bind(to_i64(batch_id)?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    // ── chain operations ─────────────────────────────────────────────────

    /// Starts (or resumes) the operation `key`; returns its state before this call
    /// (`None`: new). A `done` operation must not be sent again.
    pub async fn begin_op(&self, key: &str) -> Result<Option<OpState>> {
        let existing = sqlx::query("SELECT state FROM chain_ops WHERE op_key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        if let Some(r) = existing {
            let s: String = r.try_get("state")?;
            return Ok(Some(OpState::parse(&s).ok_or(StoreError::Corrupt(s))?));
        }
        sqlx::query(
            "INSERT INTO chain_ops (op_key, state, updated_at) VALUES ($1, 'pending', $2)
             ON CONFLICT (op_key) DO NOTHING",
        )
        .bind(key)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(None)
    }

    pub async fn finish_op(
        &self,
        key: &str,
        state: OpState,
        signature: Option<&str>,
        error: &str,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE chain_ops SET state = $1, signature = COALESCE($2, signature), last_error = $3,
                 attempts = attempts + 1, updated_at = $4 WHERE op_key = $5",
        )
        .bind(state.as_str())
        .bind(signature)
        .bind(error)
        .bind(now_ms())
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn op(&self, key: &str) -> Result<Option<(OpState, Option<String>, i64)>> {
        let row = sqlx::query("SELECT state, signature, attempts FROM chain_ops WHERE op_key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            let s: String = r.try_get("state")?;
            Ok((
                OpState::parse(&s).ok_or(StoreError::Corrupt(s))?,
                r.try_get("signature")?,
                r.try_get("attempts")?,
            ))
        })
        .transpose()
    }

    // ── events ───────────────────────────────────────────────────────────

    /// Marks event `idx` of transaction `signature` processed; false if it already was.
    pub async fn mark_event(&self, signature: &str, idx: u32, name: &str) -> Result<bool> {
        let r = sqlx::query(
            "INSERT INTO processed_events (signature, idx, name, processed_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT (signature, idx) DO NOTHING",
        )
        .bind(signature)
        .bind(i64::from(idx))
        .bind(name)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn event_processed(&self, signature: &str, idx: u32) -> Result<bool> {
        Ok(
            sqlx::query("SELECT 1 AS x FROM processed_events WHERE signature = $1 AND idx = $2")
                .bind(signature)
                .bind(i64::from(idx))
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }
}

/// `states` as an SQL list of literals. Safe to splice into a query: it holds only the
/// fixed names of [`JobState::as_str`].
fn state_list(states: &[JobState]) -> String {
    states
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(",")
}

async fn insert_job(tx: &mut sqlx::Transaction<'_, sqlx::Any>, j: &JobRecord) -> Result<()> {
    let c = &j.config;
    sqlx::query(
        "INSERT INTO jobs (id, engine_wallet, module_hash, module_size, dataset_hash, dataset_size,
             epochs, cpu_cores, ram_mb, gpu_count, vram_mb, datacenter_gpu, max_price, priority,
             estimated_secs, region, price, state, node_owner, reserved_until, created_at,
             updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
             $19, $20, $21, $22)",
    )
    .bind(j.id.hex())
    .bind(&j.engine_wallet)
    .bind(c.module_hash.to_vec())
    .bind(to_i64(c.module_size)?)
    .bind(c.dataset_hash.to_vec())
    .bind(to_i64(c.dataset_size)?)
    .bind(i64::from(c.epochs))
    .bind(i64::from(c.hardware.cpu_cores))
    .bind(i64::from(c.hardware.ram_mb))
    .bind(i64::from(c.hardware.gpu_count))
    .bind(i64::from(c.hardware.vram_mb))
    .bind(i64::from(c.hardware.datacenter_gpu))
    .bind(to_i64(c.max_price)?)
    .bind(c.priority.code())
    .bind(i64::from(c.estimated_secs))
    .bind(&c.region)
    .bind(to_i64(j.price)?)
    .bind(j.state.as_str())
    .bind(j.node_owner.as_deref())
    .bind(j.reserved_until)
    .bind(j.created_at)
    .bind(j.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn end_assignment(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: &JobId,
    reason: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE assignments SET active = 0, ended_at = $1, end_reason = $2
         WHERE job_id = $3 AND active = 1",
    )
    .bind(now)
    .bind(reason)
    .bind(id.hex())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(crate) fn to_i64(v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{v} does not fit a BIGINT")))
}

pub(crate) fn to_u64(v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative amount {v}")))
}

pub(crate) fn to_u32(v: i64) -> Result<u32> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{v} out of range")))
}

fn hash32(v: Vec<u8>) -> Result<[u8; 32]> {
    v.try_into()
        .map_err(|_| StoreError::Corrupt("hash is not 32 bytes".into()))
}

fn opt_hash(row: &AnyRow, col: &str) -> Result<Option<[u8; 32]>> {
    let v: Option<Vec<u8>> = row.try_get(col)?;
    v.map(hash32).transpose()
}

fn node_from_row(r: &AnyRow) -> Result<NodeRecord> {
    let status: String = r.try_get("chain_status")?;
    Ok(NodeRecord {
        owner: r.try_get("owner")?,
        endpoint: r.try_get("endpoint")?,
        tls_fingerprint: hash32(r.try_get("tls_fingerprint")?)?,
        hardware: Hardware {
            cpu_cores: to_u32(r.try_get("cpu_cores")?)?,
            ram_mb: to_u32(r.try_get("ram_mb")?)?,
            gpu_count: to_u32(r.try_get("gpu_count")?)?,
            vram_mb: to_u32(r.try_get("gpu_vram_mb")?)?,
            datacenter_gpu: r.try_get::<i64, _>("datacenter_gpu")? != 0,
        },
        capacity: to_u32(r.try_get("capacity")?)?,
        region: r.try_get("region")?,
        price_bps: to_u32(r.try_get("price_bps")?)?,
        registered_at: r.try_get("registered_at")?,
        last_heartbeat: r.try_get("last_heartbeat")?,
        running_jobs: to_u32(r.try_get("running_jobs")?)?,
        heartbeats: r.try_get("heartbeats")?,
        chain: ChainNode {
            stake: to_u64(r.try_get("stake")?)?,
            status: ChainStatus::parse(&status).ok_or(StoreError::Corrupt(status))?,
            heartbeat_secs: r.try_get("chain_heartbeat_secs")?,
            reputation: u16::try_from(r.try_get::<i64, _>("reputation")?)
                .map_err(|_| StoreError::Corrupt("reputation".into()))?,
            tier: u8::try_from(r.try_get::<i64, _>("tier")?)
                .map_err(|_| StoreError::Corrupt("tier".into()))?,
            synced_at: r.try_get("chain_synced_at")?,
        },
        rating_sum: r.try_get("rating_sum")?,
        rating_count: r.try_get("rating_count")?,
    })
}

fn job_from_row(r: &AnyRow) -> Result<JobRecord> {
    let id: String = r.try_get("id")?;
    let state: String = r.try_get("state")?;
    Ok(JobRecord {
        id: JobId::parse_hex(&id).ok_or_else(|| StoreError::Corrupt(format!("job id {id}")))?,
        engine_wallet: r.try_get("engine_wallet")?,
        config: JobConfig {
            module_hash: hash32(r.try_get("module_hash")?)?,
            module_size: to_u64(r.try_get("module_size")?)?,
            dataset_hash: hash32(r.try_get("dataset_hash")?)?,
            dataset_size: to_u64(r.try_get("dataset_size")?)?,
            epochs: to_u32(r.try_get("epochs")?)?,
            hardware: Hardware {
                cpu_cores: to_u32(r.try_get("cpu_cores")?)?,
                ram_mb: to_u32(r.try_get("ram_mb")?)?,
                gpu_count: to_u32(r.try_get("gpu_count")?)?,
                vram_mb: to_u32(r.try_get("vram_mb")?)?,
                datacenter_gpu: r.try_get::<i64, _>("datacenter_gpu")? != 0,
            },
            max_price: to_u64(r.try_get("max_price")?)?,
            priority: Priority::from_code(r.try_get("priority")?)
                .ok_or_else(|| StoreError::Corrupt("priority".into()))?,
            estimated_secs: to_u32(r.try_get("estimated_secs")?)?,
            region: r.try_get("region")?,
        },
        price: to_u64(r.try_get("price")?)?,
        state: JobState::parse(&state).ok_or(StoreError::Corrupt(state))?,
        node_owner: r.try_get("node_owner")?,
        reserved_until: r.try_get("reserved_until")?,
        escrow_signature: r.try_get("escrow_signature")?,
        user_token: r.try_get("user_token")?,
        assign_signature: r.try_get("assign_signature")?,
        escrow_timeout_secs: r.try_get("escrow_timeout_secs")?,
        epochs_reported: to_u32(r.try_get("epochs_reported")?)?,
        last_checkpoint: opt_hash(r, "last_checkpoint")?,
        epochs_anchored: to_u32(r.try_get("epochs_anchored")?)?,
        merkle_root: opt_hash(r, "merkle_root")?,
        final_weights: opt_hash(r, "final_weights")?,
        detail: r.try_get("detail")?,
        rating: r
            .try_get::<Option<i64>, _>("rating")?
            .map(to_u32)
            .transpose()?,
        rematches: to_u32(r.try_get("rematches")?)?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        accepted_at: r.try_get("accepted_at")?,
        finished_at: r.try_get("finished_at")?,
    })
}

fn update_from_row(r: &AnyRow) -> Result<UpdateRow> {
    let kind: String = r.try_get("kind")?;
    Ok(UpdateRow {
        id: r.try_get("id")?,
        node_owner: r.try_get("node_owner")?,
        kind: UpdateKind::from_parts(&kind, r.try_get("a")?, r.try_get("b")?)
            .ok_or(StoreError::Corrupt(kind))?,
        batch_id: r.try_get("batch_id")?,
        created_at: r.try_get("created_at")?,
    })
}

fn batch_from_row(r: &AnyRow) -> Result<Batch> {
    Ok(Batch {
        batch_id: to_u64(r.try_get("batch_id")?)?,
        state: r.try_get("state")?,
        signature: r.try_get("signature")?,
        attempts: r.try_get("attempts")?,
        last_error: r.try_get("last_error")?,
        created_by: r.try_get("created_by")?,
    })
}
