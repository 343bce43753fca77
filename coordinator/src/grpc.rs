//! The gRPC edge: authenticates each call by its wallet signature (and single-use
//! nonce), converts messages and maps errors to `Status`. Behaviour lives in
//! [`crate::service`].

use std::{pin::Pin, sync::Arc, time::Duration};

use cyxwiz_chain::Pubkey;
use cyxwiz_proto::{
    auth::{self, now_ms},
    methods,
    v1::{self, engine_service_server::EngineService, node_service_server::NodeService},
};
use prost::Message;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use crate::{error::AppError, service::Coordinator};

/// Both services share one coordinator.
#[derive(Debug, Clone)]
pub struct Api {
    pub coordinator: Arc<Coordinator>,
}

impl Api {
    async fn caller<M: Message>(&self, req: &Request<M>, method: &str) -> Result<Pubkey, Status> {
        let skew = self.coordinator.cfg.api.max_clock_skew_secs as i64 * 1_000;
        let caller =
            auth::verify(req.metadata(), method, req.get_ref(), now_ms(), skew).map_err(|e| {
                tracing::warn!(method, reason = %e, "unauthenticated request");
                metrics::counter!("cyxwiz_auth_failures_total").increment(1);
                Status::unauthenticated(e.to_string())
            })?;
        let wallet = Pubkey::new_from_array(caller.wallet.to_bytes());
        self.coordinator.admit(&wallet, &caller.nonce).await?;
        Ok(wallet)
    }
}

fn timed<T>(
    method: &'static str,
    start: std::time::Instant,
    r: Result<T, AppError>,
) -> Result<Response<T>, Status> {
    metrics::histogram!("cyxwiz_grpc_seconds", "method" => method)
        .record(start.elapsed().as_secs_f64());
    match r {
        Ok(v) => Ok(Response::new(v)),
        Err(e) => {
            metrics::counter!("cyxwiz_grpc_errors_total", "method" => method, "code" => format!("{:?}", e.code()))
                .increment(1);
            Err(e.into())
        }
    }
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<v1::JobStatus, Status>> + Send>>;

/// How often a `WatchJob` stream re-reads the job.
const WATCH_POLL: Duration = Duration::from_millis(500);

#[tonic::async_trait]
impl EngineService for Api {
    async fn submit_job(
        &self,
        req: Request<v1::SubmitJobRequest>,
    ) -> Result<Response<v1::NodeAssignmentReady>, Status> {
        let start = std::time::Instant::now();
        let wallet = self.caller(&req, methods::SUBMIT_JOB).await?;
        let config = req
            .get_ref()
            .config
            .as_ref()
            .ok_or_else(|| Status::invalid_argument("config is required"))?;
        timed(
            "SubmitJob",
            start,
            self.coordinator.submit_job(&wallet, config).await,
        )
    }

    async fn confirm_escrow(
        &self,
        req: Request<v1::ConfirmEscrowRequest>,
    ) -> Result<Response<v1::StartJobResponse>, Status> {
        let start = std::time::Instant::now();
        let wallet = self.caller(&req, methods::CONFIRM_ESCROW).await?;
        let r = req.get_ref();
        timed(
            "ConfirmEscrow",
            start,
            self.coordinator
                .confirm_escrow(&wallet, &r.job_id, &r.tx_signature)
                .await,
        )
    }

    async fn get_job_status(
        &self,
        req: Request<v1::JobRef>,
    ) -> Result<Response<v1::JobStatus>, Status> {
        let start = std::time::Instant::now();
        let wallet = self.caller(&req, methods::GET_JOB_STATUS).await?;
        timed(
            "GetJobStatus",
            start,
            self.coordinator
                .job_status(&wallet, &req.get_ref().job_id)
                .await,
        )
    }

    type WatchJobStream = WatchStream;

    async fn watch_job(
        &self,
        req: Request<v1::JobRef>,
    ) -> Result<Response<Self::WatchJobStream>, Status> {
        let wallet = self.caller(&req, methods::WATCH_JOB).await?;
        let c = self.coordinator.clone();
        let job_id = req.get_ref().job_id.clone();
        // Fails now (not in the stream) for a job the caller cannot see.
        let first = c.watched_job(&wallet, &job_id).await?;
        let permit = c
            .watchers_permit()
            .map_err(|_| Status::resource_exhausted("too many job watchers on this replica"))?;
        let max = Duration::from_secs(c.cfg.api.watch_max_secs);
        let stream = async_stream(c, wallet, job_id, first, max, permit);
        Ok(Response::new(Box::pin(stream)))
    }

    async fn cancel_job(
        &self,
        req: Request<v1::JobRef>,
    ) -> Result<Response<v1::JobStatus>, Status> {
        let start = std::time::Instant::now();
        let wallet = self.caller(&req, methods::CANCEL_JOB).await?;
        timed(
            "CancelJob",
            start,
            self.coordinator
                .cancel_job(&wallet, &req.get_ref().job_id)
                .await,
        )
    }

    async fn rate_node(
        &self,
        req: Request<v1::RateNodeRequest>,
    ) -> Result<Response<v1::RateNodeResponse>, Status> {
        let start = std::time::Instant::now();
        let wallet = self.caller(&req, methods::RATE_NODE).await?;
        let r = req.get_ref();
        timed(
            "RateNode",
            start,
            self.coordinator
                .rate_node(&wallet, &r.job_id, r.stars)
                .await,
        )
    }
}

/// A stream of the job's status: the current one, then each change, until the job ends,
/// the stream has been open for `max`, or the client goes away.
fn async_stream(
    c: Arc<Coordinator>,
    wallet: Pubkey,
    job_id: Vec<u8>,
    first: crate::store::JobRecord,
    max: Duration,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> impl Stream<Item = Result<v1::JobStatus, Status>> + Send {
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    tokio::spawn(async move {
        let _permit = permit;
        let deadline = tokio::time::Instant::now() + max;
        let mut last = None;
        let mut job = first;
        loop {
            let key = (
                job.state,
                job.epochs_reported,
                job.epochs_anchored,
                job.node_owner.clone(),
            );
            if last.as_ref() != Some(&key) {
                let status = match c.status_of(&job).await {
                    Ok(s) => Ok(s),
                    Err(e) => Err(Status::from(e)),
                };
                let stop = status.is_err();
                if tx.send(status).await.is_err() || stop {
                    return;
                }
                last = Some(key);
            }
            if job.state.is_terminal() || tokio::time::Instant::now() >= deadline {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(WATCH_POLL) => {}
                _ = tx.closed() => return,
            }
            job = match c.watched_job(&wallet, &job_id).await {
                Ok(j) => j,
                Err(e) => {
                    let _ = tx.send(Err(e.into())).await;
                    return;
                }
            };
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

#[tonic::async_trait]
impl NodeService for Api {
    async fn register_node(
        &self,
        req: Request<v1::RegisterNodeRequest>,
    ) -> Result<Response<v1::RegisterNodeResponse>, Status> {
        let start = std::time::Instant::now();
        let wallet = self.caller(&req, methods::REGISTER_NODE).await?;
        timed(
            "RegisterNode",
            start,
            self.coordinator.register_node(&wallet, req.get_ref()).await,
        )
    }

    async fn heartbeat(
        &self,
        req: Request<v1::HeartbeatRequest>,
    ) -> Result<Response<v1::HeartbeatResponse>, Status> {
        let start = std::time::Instant::now();
        let wallet = self.caller(&req, methods::HEARTBEAT).await?;
        timed(
            "Heartbeat",
            start,
            self.coordinator
                .heartbeat(&wallet, req.get_ref().running_jobs)
                .await,
        )
    }

    async fn poll_assignments(
        &self,
        req: Request<v1::PollAssignmentsRequest>,
    ) -> Result<Response<v1::PollAssignmentsResponse>, Status> {
        let start = std::time::Instant::now();
        let wallet = self.caller(&req, methods::POLL_ASSIGNMENTS).await?;
        timed(
            "PollAssignments",
            start,
            self.coordinator.poll_assignments(&wallet).await,
        )
    }

    async fn verify_token(
        &self,
        req: Request<v1::VerifyTokenRequest>,
    ) -> Result<Response<v1::VerifyTokenResponse>, Status> {
        let start = std::time::Instant::now();
        let wallet = self.caller(&req, methods::VERIFY_TOKEN).await?;
        timed(
            "VerifyToken",
            start,
            self.coordinator
                .verify_token(&wallet, &req.get_ref().token)
                .await,
        )
    }

    async fn report_progress(
        &self,
        req: Request<v1::ReportProgressRequest>,
    ) -> Result<Response<v1::ReportProgressResponse>, Status> {
        let start = std::time::Instant::now();
        let wallet = self.caller(&req, methods::REPORT_PROGRESS).await?;
        timed(
            "ReportProgress",
            start,
            self.coordinator
                .report_progress(&wallet, req.get_ref())
                .await,
        )
    }

    async fn report_completion(
        &self,
        req: Request<v1::ReportCompletionRequest>,
    ) -> Result<Response<v1::ReportCompletionResponse>, Status> {
        let start = std::time::Instant::now();
        let wallet = self.caller(&req, methods::REPORT_COMPLETION).await?;
        timed(
            "ReportCompletion",
            start,
            self.coordinator
                .report_completion(&wallet, req.get_ref())
                .await,
        )
    }
}
