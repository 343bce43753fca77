//! The REST edge (axum): liveness and readiness, Prometheus metrics, read-only JSON
//! views of jobs, nodes and the leaderboard, the JWT verification key, and the OpenAPI
//! document describing all of it.

use std::sync::{Arc, OnceLock};

use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, Path, Query, State},
    http::{StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde::{Deserialize, Serialize};

use crate::{
    error::AppError,
    service::Coordinator,
    store::{JobRecord, NodeRecord},
    types::{JobId, JobState},
};

/// The process-wide Prometheus recorder (installed once).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder was installed first; metrics then go there.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

#[derive(Clone)]
struct AppState {
    c: Arc<Coordinator>,
    metrics: PrometheusHandle,
}

/// Routes of the REST API.
pub fn router(c: Arc<Coordinator>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(prometheus))
        .route("/openapi.json", get(openapi))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/v1/jobs", get(list_jobs))
        .route("/v1/jobs/{id}", get(get_job))
        .route("/v1/nodes", get(list_nodes))
        .route("/v1/nodes/{owner}", get(get_node))
        .route("/v1/leaderboard", get(leaderboard))
        .layer(DefaultBodyLimit::max(16 * 1024))
        .with_state(AppState {
            c,
            metrics: metrics_handle(),
        })
}

async fn healthz() -> &'static str {
    "ok"
}

#[derive(Serialize)]
struct Readiness {
    ready: bool,
    database: String,
    shared_state: String,
}

/// Ready when the database and shared state answer (the chain is not required to
/// serve reads).
async fn readyz(State(s): State<AppState>) -> impl IntoResponse {
    let db = s.c.store.ping().await;
    let shared = s.c.shared.ping().await;
    let body = Readiness {
        ready: db.is_ok() && shared.is_ok(),
        database: db
            .map(|_| "ok".to_string())
            .unwrap_or_else(|e| e.to_string()),
        shared_state: shared
            .map(|_| "ok".to_string())
            .unwrap_or_else(|e| e.to_string()),
    };
    let code = if body.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body))
}

async fn prometheus(State(s): State<AppState>) -> impl IntoResponse {
    if let Ok(counts) = s.c.store.count_jobs_by_state().await {
        for (state, n) in counts {
            metrics::gauge!("cyxwiz_jobs", "state" => state.as_str()).set(n as f64);
        }
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
}

async fn jwks(State(s): State<AppState>) -> Json<serde_json::Value> {
    Json(s.c.jwt.jwks())
}

#[derive(Deserialize)]
struct JobsQuery {
    engine: Option<String>,
    state: Option<String>,
    limit: Option<u32>,
    offset: Option<u32>,
}

/// A job as the REST API shows it.
#[derive(Serialize)]
struct JobView {
    id: String,
    engine_wallet: String,
    state: &'static str,
    node_owner: Option<String>,
    price: u64,
    epochs: u32,
    epochs_reported: u32,
    epochs_anchored: u32,
    module_hash: String,
    dataset_hash: String,
    final_weights_hash: Option<String>,
    detail: String,
    created_at: i64,
    updated_at: i64,
}

impl From<&JobRecord> for JobView {
    fn from(j: &JobRecord) -> Self {
        JobView {
            id: j.id.hex(),
            engine_wallet: j.engine_wallet.clone(),
            state: j.state.as_str(),
            node_owner: j.node_owner.clone(),
            price: j.price,
            epochs: j.config.epochs,
            epochs_reported: j.epochs_reported,
            epochs_anchored: j.epochs_anchored,
            module_hash: hex::encode(j.config.module_hash),
            dataset_hash: hex::encode(j.config.dataset_hash),
            final_weights_hash: j.final_weights.map(hex::encode),
            detail: j.detail.clone(),
            created_at: j.created_at,
            updated_at: j.updated_at,
        }
    }
}

async fn list_jobs(
    State(s): State<AppState>,
    Query(q): Query<JobsQuery>,
) -> Result<Json<Vec<JobView>>, AppError> {
    let state = match q.state.as_deref() {
        None | Some("") => None,
        Some(name) => Some(
            JobState::parse(name)
                .ok_or_else(|| AppError::InvalidArgument(format!("unknown state {name:?}")))?,
        ),
    };
    let jobs =
        s.c.store
            .jobs(
                q.engine.as_deref(),
                state,
                q.limit.unwrap_or(50).min(500),
                q.offset.unwrap_or(0),
            )
            .await?;
    Ok(Json(jobs.iter().map(JobView::from).collect()))
}

async fn get_job(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<JobView>, AppError> {
    let id = JobId::parse_hex(&id)
        .ok_or_else(|| AppError::InvalidArgument("job id must be 32 hex characters".into()))?;
    let job =
        s.c.store
            .job(&id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no job {id}")))?;
    Ok(Json(JobView::from(&job)))
}

/// A node as the REST API shows it.
#[derive(Serialize)]
struct NodeView {
    owner: String,
    endpoint: String,
    region: String,
    capacity: u32,
    running_jobs: u32,
    cpu_cores: u32,
    ram_mb: u32,
    gpu_count: u32,
    gpu_vram_mb: u32,
    stake: u64,
    chain_status: &'static str,
    reputation: u16,
    tier: &'static str,
    last_heartbeat: i64,
    average_rating: Option<f64>,
}

impl From<&NodeRecord> for NodeView {
    fn from(n: &NodeRecord) -> Self {
        NodeView {
            owner: n.owner.clone(),
            endpoint: n.endpoint.clone(),
            region: n.region.clone(),
            capacity: n.capacity,
            running_jobs: n.running_jobs,
            cpu_cores: n.hardware.cpu_cores,
            ram_mb: n.hardware.ram_mb,
            gpu_count: n.hardware.gpu_count,
            gpu_vram_mb: n.hardware.vram_mb,
            stake: n.chain.stake,
            chain_status: n.chain.status.as_str(),
            reputation: n.chain.reputation,
            tier: crate::types::tier_name(n.chain.tier),
            last_heartbeat: n.last_heartbeat,
            average_rating: (n.rating_count > 0)
                .then(|| n.rating_sum as f64 / n.rating_count as f64),
        }
    }
}

async fn list_nodes(State(s): State<AppState>) -> Result<Json<Vec<NodeView>>, AppError> {
    Ok(Json(
        s.c.store
            .nodes()
            .await?
            .iter()
            .map(NodeView::from)
            .collect(),
    ))
}

async fn get_node(
    State(s): State<AppState>,
    Path(owner): Path<String>,
) -> Result<Json<NodeView>, AppError> {
    let node =
        s.c.store
            .node(&owner)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no node {owner}")))?;
    Ok(Json(NodeView::from(&node)))
}

#[derive(Deserialize)]
struct Limit {
    limit: Option<u32>,
}

async fn leaderboard(
    State(s): State<AppState>,
    Query(q): Query<Limit>,
) -> Result<Json<Vec<NodeView>>, AppError> {
    let nodes =
        s.c.store
            .leaderboard(q.limit.unwrap_or(25).min(500))
            .await?;
    Ok(Json(nodes.iter().map(NodeView::from).collect()))
}

async fn openapi() -> Json<serde_json::Value> {
    Json(openapi_document())
}

/// The OpenAPI 3.1 description of the REST API (a test checks every route is in it).
pub fn openapi_document() -> serde_json::Value {
    use serde_json::json;
    let job = json!({"type": "object", "properties": {
        "id": {"type": "string"}, "engine_wallet": {"type": "string"},
        "state": {"type": "string", "enum": JobState::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>()},
        "node_owner": {"type": ["string", "null"]}, "price": {"type": "integer"},
        "epochs": {"type": "integer"}, "epochs_reported": {"type": "integer"},
        "epochs_anchored": {"type": "integer"}, "module_hash": {"type": "string"},
        "dataset_hash": {"type": "string"}, "final_weights_hash": {"type": ["string", "null"]},
        "detail": {"type": "string"}, "created_at": {"type": "integer"}, "updated_at": {"type": "integer"}}});
    let node = json!({"type": "object", "properties": {
        "owner": {"type": "string"}, "endpoint": {"type": "string"}, "region": {"type": "string"},
        "capacity": {"type": "integer"}, "running_jobs": {"type": "integer"},
        "cpu_cores": {"type": "integer"}, "ram_mb": {"type": "integer"}, "gpu_count": {"type": "integer"},
        "gpu_vram_mb": {"type": "integer"}, "stake": {"type": "integer"},
        "chain_status": {"type": "string"}, "reputation": {"type": "integer"},
        "tier": {"type": "string", "enum": crate::types::TIER_NAMES},
        "last_heartbeat": {"type": "integer"}, "average_rating": {"type": ["number", "null"]}}});
    let error = json!({"type": "object", "properties": {"error": {"type": "string"}}});
    let ok = |desc: &str, schema: serde_json::Value| json!({"description": desc, "content": {"application/json": {"schema": schema}}});
    let err = |desc: &str| json!({"description": desc, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    json!({
        "openapi": "3.1.0",
        "info": {"title": "CyxWiz coordinator", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Read-only views of the coordinator. Jobs are submitted over gRPC (cyxwiz.coordinator.v1)."},
        "paths": {
            "/healthz": {"get": {"summary": "Liveness", "responses": {"200": {"description": "alive", "content": {"text/plain": {}}}}}},
            "/readyz": {"get": {"summary": "Readiness: database and shared state answer",
                "responses": {"200": ok("ready", json!({"type": "object"})), "503": ok("not ready", json!({"type": "object"}))}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "metrics", "content": {"text/plain": {}}}}}},
            "/openapi.json": {"get": {"summary": "This document", "responses": {"200": ok("OpenAPI", json!({"type": "object"}))}}},
            "/.well-known/jwks.json": {"get": {"summary": "Key that verifies P2P credentials (EdDSA)", "responses": {"200": ok("JWKS", json!({"type": "object"}))}}},
            "/v1/jobs": {"get": {"summary": "Jobs, newest first",
                "parameters": [
                    {"name": "engine", "in": "query", "schema": {"type": "string"}},
                    {"name": "state", "in": "query", "schema": {"type": "string"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 500}},
                    {"name": "offset", "in": "query", "schema": {"type": "integer"}}],
                "responses": {"200": ok("jobs", json!({"type": "array", "items": {"$ref": "#/components/schemas/Job"}})), "400": err("bad query")}}},
            "/v1/jobs/{id}": {"get": {"summary": "One job",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {"200": ok("job", json!({"$ref": "#/components/schemas/Job"})), "400": err("bad id"), "404": err("no such job")}}},
            "/v1/nodes": {"get": {"summary": "Registered nodes", "responses": {"200": ok("nodes", json!({"type": "array", "items": {"$ref": "#/components/schemas/Node"}}))}}},
            "/v1/nodes/{owner}": {"get": {"summary": "One node",
                "parameters": [{"name": "owner", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {"200": ok("node", json!({"$ref": "#/components/schemas/Node"})), "404": err("no such node")}}},
            "/v1/leaderboard": {"get": {"summary": "Nodes by reputation",
                "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 500}}],
                "responses": {"200": ok("nodes", json!({"type": "array", "items": {"$ref": "#/components/schemas/Node"}}))}}}
        },
        "components": {"schemas": {"Job": job, "Node": node, "Error": error}}
    })
}
