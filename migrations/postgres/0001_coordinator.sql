-- The coordinator's state (PostgreSQL). Times are Unix milliseconds unless named *_secs;
-- job ids are 32 lowercase hex characters; wallets base58. Keep in step with
-- migrations/sqlite/0001_coordinator.sql: the same tables and columns, dialect types only.

CREATE TABLE nodes (
    owner             TEXT PRIMARY KEY,
    endpoint          TEXT NOT NULL,
    tls_fingerprint   BYTEA NOT NULL,
    cpu_cores         BIGINT NOT NULL,
    ram_mb            BIGINT NOT NULL,
    gpu_count         BIGINT NOT NULL,
    gpu_vram_mb       BIGINT NOT NULL,
    datacenter_gpu    BIGINT NOT NULL,
    capacity          BIGINT NOT NULL,
    region            TEXT NOT NULL,
    price_bps         BIGINT NOT NULL,
    registered_at     BIGINT NOT NULL,
    last_heartbeat    BIGINT NOT NULL,
    running_jobs      BIGINT NOT NULL DEFAULT 0,
    heartbeats        BIGINT NOT NULL DEFAULT 0,
    heartbeats_reported BIGINT NOT NULL DEFAULT 0,
    -- Read from chain (NodeRegistry, ReputationManager) by the gateway.
    stake             BIGINT NOT NULL,
    chain_status      TEXT NOT NULL,
    chain_heartbeat_secs BIGINT NOT NULL,
    reputation        BIGINT NOT NULL,
    tier              BIGINT NOT NULL,
    chain_synced_at   BIGINT NOT NULL,
    rating_sum        BIGINT NOT NULL DEFAULT 0,
    rating_count      BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE jobs (
    id                TEXT PRIMARY KEY,
    engine_wallet     TEXT NOT NULL,
    module_hash       BYTEA NOT NULL,
    module_size       BIGINT NOT NULL,
    dataset_hash      BYTEA NOT NULL,
    dataset_size      BIGINT NOT NULL,
    epochs            BIGINT NOT NULL,
    cpu_cores         BIGINT NOT NULL,
    ram_mb            BIGINT NOT NULL,
    gpu_count         BIGINT NOT NULL,
    vram_mb           BIGINT NOT NULL,
    datacenter_gpu    BIGINT NOT NULL,
    max_price         BIGINT NOT NULL,
    priority          BIGINT NOT NULL,
    estimated_secs    BIGINT NOT NULL,
    region            TEXT NOT NULL,
    price             BIGINT NOT NULL,
    state             TEXT NOT NULL,
    node_owner        TEXT,
    reserved_until    BIGINT NOT NULL,
    escrow_signature  TEXT,
    user_token        TEXT,
    assign_signature  TEXT,
    escrow_timeout_secs BIGINT,
    epochs_reported   BIGINT NOT NULL DEFAULT 0,
    last_checkpoint   BYTEA,
    epochs_anchored   BIGINT NOT NULL DEFAULT 0,
    merkle_root       BYTEA,
    final_weights     BYTEA,
    detail            TEXT NOT NULL DEFAULT '',
    rating            BIGINT,
    rematches         BIGINT NOT NULL DEFAULT 0,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    accepted_at       BIGINT,
    finished_at       BIGINT
);
CREATE INDEX jobs_engine_created ON jobs (engine_wallet, created_at);
CREATE INDEX jobs_state ON jobs (state);
CREATE INDEX jobs_node_state ON jobs (node_owner, state);

-- Which job holds which of a node's slots. The partial unique indexes are the
-- authoritative guard against double assignment (Redis reservations are the fast path).
CREATE TABLE assignments (
    id                BIGSERIAL PRIMARY KEY,
    job_id            TEXT NOT NULL REFERENCES jobs (id),
    node_owner        TEXT NOT NULL,
    slot              BIGINT NOT NULL,
    active            BIGINT NOT NULL,
    created_at        BIGINT NOT NULL,
    ended_at          BIGINT,
    end_reason        TEXT
);
CREATE UNIQUE INDEX assignments_active_slot ON assignments (node_owner, slot) WHERE active = 1;
CREATE UNIQUE INDEX assignments_active_job ON assignments (job_id) WHERE active = 1;

CREATE TABLE progress (
    job_id            TEXT NOT NULL REFERENCES jobs (id),
    epoch             BIGINT NOT NULL,
    checkpoint_hash   BYTEA NOT NULL,
    reported_at       BIGINT NOT NULL,
    PRIMARY KEY (job_id, epoch)
);

-- Money movements seen on chain, one row per job.
CREATE TABLE payments (
    job_id            TEXT PRIMARY KEY REFERENCES jobs (id),
    kind              TEXT NOT NULL,
    to_node           BIGINT NOT NULL,
    to_user           BIGINT NOT NULL,
    fee               BIGINT NOT NULL,
    signature         TEXT NOT NULL,
    recorded_at       BIGINT NOT NULL
);

-- Reputation updates waiting for (or carried by) a batch. dedup_key makes each update
-- exactly-once however many replicas see its cause.
CREATE TABLE reputation_updates (
    id                BIGSERIAL PRIMARY KEY,
    dedup_key         TEXT NOT NULL UNIQUE,
    node_owner        TEXT NOT NULL,
    kind              TEXT NOT NULL,
    a                 BIGINT NOT NULL,
    b                 BIGINT NOT NULL,
    batch_id          BIGINT,
    created_at        BIGINT NOT NULL
);
CREATE INDEX reputation_updates_pending ON reputation_updates (batch_id, id);

CREATE TABLE reputation_batches (
    batch_id          BIGINT PRIMARY KEY,
    state             TEXT NOT NULL,
    signature         TEXT,
    attempts          BIGINT NOT NULL DEFAULT 0,
    last_error        TEXT NOT NULL DEFAULT '',
    created_by        TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    applied_at        BIGINT
);

-- Chain transactions the coordinator submits on its own (timeout refunds, re-matches):
-- one row per intended effect, so a new leader finishes what a dead one started.
CREATE TABLE chain_ops (
    op_key            TEXT PRIMARY KEY,
    state             TEXT NOT NULL,
    signature         TEXT,
    attempts          BIGINT NOT NULL DEFAULT 0,
    last_error        TEXT NOT NULL DEFAULT '',
    updated_at        BIGINT NOT NULL
);

CREATE TABLE processed_events (
    signature         TEXT NOT NULL,
    idx               BIGINT NOT NULL,
    name              TEXT NOT NULL,
    processed_at      BIGINT NOT NULL,
    PRIMARY KEY (signature, idx)
);
