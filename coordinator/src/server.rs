//! Assembly: builds a coordinator from its configuration and serves gRPC (with health
//! and reflection) and REST on listeners the caller binds, until the shutdown future
//! resolves. Tests bind `127.0.0.1:0` and stop it cleanly.

use std::{future::Future, sync::Arc, time::Duration};

use cyxwiz_chain::keys;
use cyxwiz_proto::v1::{
    self, engine_service_server::EngineServiceServer, node_service_server::NodeServiceServer,
};
use tokio::{net::TcpListener, sync::watch};
use tokio_stream::wrappers::TcpListenerStream;

use crate::{
    config::Config,
    error::AppError,
    gateway::Gateway,
    grpc::Api,
    jwt::Jwt,
    rest,
    service::Coordinator,
    shared::{SharedState, memory::MemoryShared, redis::RedisShared},
    store::{Store, StoreOptions},
    workers,
};

/// Opens the database (running migrations), the shared state and the chain gateway.
pub async fn build(cfg: Config) -> Result<Coordinator, AppError> {
    let mut url = cfg.database.url.clone();
    if let Some(file) = &cfg.database.password_file {
        let password = std::fs::read_to_string(file)
            .map_err(|e| AppError::Unavailable(format!("database.password_file: {e}")))?;
        url = with_password(&url, password.trim());
    }
    if let Some(path) = url.strip_prefix("sqlite:")
        && let Some(dir) = std::path::Path::new(path.split('?').next().unwrap_or(path)).parent()
        && !dir.as_os_str().is_empty()
    {
        let _ = std::fs::create_dir_all(dir);
    }
    let store = Store::connect(
        &url,
        StoreOptions {
            max_connections: cfg.database.max_connections,
            schema: cfg.database.schema.clone(),
            ..StoreOptions::default()
        },
    )
    .await?;
    let shared: Arc<dyn SharedState> = if cfg.redis.url.is_empty() {
        Arc::new(MemoryShared::new())
    } else {
        Arc::new(
            RedisShared::connect(
                &cfg.redis.url,
                &cfg.redis.prefix,
                Duration::from_millis(cfg.redis.timeout_ms),
            )
            .await?,
        )
    };
    let read_key = |path: &std::path::Path| {
        keys::read_keypair(path).map_err(|e| AppError::Unavailable(format!("{e}")))
    };
    let coordinator = read_key(&cfg.chain.coordinator_keypair)?;
    let updater = read_key(&cfg.chain.updater_keypair)?;
    let jwt_key = match &cfg.api.jwt_keypair {
        Some(p) => read_key(p)?,
        None => coordinator.insecure_clone(),
    };
    let jwt = Jwt::new(jwt_key.secret_bytes(), cfg.api.jwt_ttl_secs as i64);
    let gateway = Gateway::connect(
        &cfg.chain.rpc_url,
        &cfg.chain.ws_url,
        coordinator,
        updater,
        // `Config::validate` has refused any other name.
        cyxwiz_proto::config::parse_commitment(&cfg.chain.commitment)
            .map_err(AppError::Unavailable)?,
    )
    .await
    .map_err(|e| AppError::Unavailable(format!("chain: {e}")))?;
    Coordinator::new(cfg, store, shared, gateway, jwt).await
}

fn with_password(url: &str, password: &str) -> String {
    // postgres://user@host/db → postgres://user:password@host/db
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((user, host)) if !user.contains(':') => {
                format!("{scheme}://{user}:{password}@{host}")
            }
            _ => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// Serves until `shutdown` resolves, then stops the periodic work and both listeners.
pub async fn run(
    coordinator: Arc<Coordinator>,
    grpc: TcpListener,
    http: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), AppError> {
    let cfg = coordinator.cfg.api.clone();
    let (stop_tx, stop_rx) = watch::channel(false);
    let workers = tokio::spawn(workers::run(coordinator.clone(), stop_rx.clone()));

    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<EngineServiceServer<Api>>().await;
    health.set_serving::<NodeServiceServer<Api>>().await;
    // Both reflection versions: grpcurl and older tools still ask v1alpha.
    let reflection_builder = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(v1::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection = reflection_builder()
        .build_v1()
        .map_err(|e| AppError::Internal(format!("reflection: {e}")))?;
    let reflection_alpha = reflection_builder()
        .build_v1alpha()
        .map_err(|e| AppError::Internal(format!("reflection: {e}")))?;
    let api = Api {
        coordinator: coordinator.clone(),
    };
    let engine = EngineServiceServer::new(api.clone())
        .max_decoding_message_size(cfg.max_request_bytes)
        .max_encoding_message_size(4 * 1024 * 1024);
    let node = NodeServiceServer::new(api)
        .max_decoding_message_size(cfg.max_request_bytes)
        .max_encoding_message_size(4 * 1024 * 1024);

    let stop = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let grpc_server = tonic::transport::Server::builder()
        .timeout(Duration::from_millis(cfg.request_timeout_ms))
        .concurrency_limit_per_connection(cfg.max_concurrent_requests)
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .add_service(health_service)
        .add_service(reflection)
        .add_service(reflection_alpha)
        .add_service(engine)
        .add_service(node)
        .serve_with_incoming_shutdown(TcpListenerStream::new(grpc), stop(stop_rx.clone()));
    let rest_server = axum::serve(http, rest::router(coordinator.clone()))
        .with_graceful_shutdown(stop(stop_rx.clone()));

    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let (g, r) = tokio::join!(grpc_server, rest_server);
    let _ = workers.await;
    coordinator.store.close().await;
    g.map_err(|e| AppError::Internal(format!("gRPC server: {e}")))?;
    r.map_err(|e| AppError::Internal(format!("REST server: {e}")))?;
    Ok(())
}

/// A coordinator served in this process on free loopback ports (gRPC and REST), for the
/// main job, the end-to-end tests and the coordinator's own tests: one place that binds,
/// serves and stops it.
pub struct Served {
    pub coordinator: Arc<Coordinator>,
    pub grpc: std::net::SocketAddr,
    pub http: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Served {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Served")
            .field("grpc", &self.grpc)
            .field("http", &self.http)
            .finish()
    }
}

/// Builds the coordinator from `cfg` and serves it on `127.0.0.1:0` listeners until
/// [`Served::stop`].
pub async fn serve_on_free_ports(cfg: Config) -> Result<Served, AppError> {
    let coordinator = Arc::new(build(cfg).await?);
    let bind = || async {
        TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| AppError::Unavailable(format!("binding a loopback port: {e}")))
    };
    let (grpc, http) = (bind().await?, bind().await?);
    let addr = |l: &TcpListener| {
        l.local_addr()
            .map_err(|e| AppError::Unavailable(format!("listener address: {e}")))
    };
    let (g, h) = (addr(&grpc)?, addr(&http)?);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let c = coordinator.clone();
    let task = tokio::spawn(async move {
        if let Err(e) = run(c, grpc, http, async {
            let _ = rx.await;
        })
        .await
        {
            tracing::error!(error = %e, "coordinator stopped");
        }
    });
    Ok(Served {
        coordinator,
        grpc: g,
        http: h,
        stop: Some(tx),
        task: Some(task),
    })
}

impl Served {
    /// The gRPC endpoint as a URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.grpc)
    }

    /// Stops serving and waits (at most 10 s) for the listeners and workers to finish.
    pub async fn stop(mut self) {
        self.halt().await;
    }

    /// [`Served::stop`] in place: the coordinator goes down (its ports close, its
    /// workers end) while its owner lives on, as in a test of jobs that run without it.
    /// Calling it again, or `stop` afterwards, does nothing more.
    pub async fn halt(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
    }
}
