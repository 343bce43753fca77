//! Errors at the service edge. Each maps to one gRPC status code and one HTTP status;
//! internal causes are logged and replaced by a generic message for the client.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use tonic::{Code, Status};

use crate::{shared::SharedError, store::StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    Aborted(String),
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after_secs: u64,
    },
    #[error("{0}")]
    ResourceExhausted(String),
    /// A dependency (database, Redis, RPC) is down; the client may retry.
    #[error("{0}")]
    Unavailable(String),
    /// A bug or an unexpected failure: the cause is logged, not returned.
    #[error("internal error")]
    Internal(String),
}

impl AppError {
    pub fn code(&self) -> Code {
        match self {
            AppError::InvalidArgument(_) => Code::InvalidArgument,
            AppError::Unauthenticated(_) => Code::Unauthenticated,
            AppError::PermissionDenied(_) => Code::PermissionDenied,
            AppError::NotFound(_) => Code::NotFound,
            AppError::FailedPrecondition(_) => Code::FailedPrecondition,
            AppError::AlreadyExists(_) => Code::AlreadyExists,
            AppError::Aborted(_) => Code::Aborted,
            AppError::RateLimited { .. } | AppError::ResourceExhausted(_) => {
                Code::ResourceExhausted
            }
            AppError::Unavailable(_) => Code::Unavailable,
            AppError::Internal(_) => Code::Internal,
        }
    }

    fn http(&self) -> StatusCode {
        match self {
            AppError::InvalidArgument(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            AppError::PermissionDenied(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::FailedPrecondition(_) | AppError::AlreadyExists(_) | AppError::Aborted(_) => {
                StatusCode::CONFLICT
            }
            AppError::RateLimited { .. } | AppError::ResourceExhausted(_) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn log(&self) {
        match self {
            AppError::Internal(cause) => tracing::error!(%cause, "internal error"),
            AppError::Unavailable(cause) => tracing::warn!(%cause, "dependency unavailable"),
            _ => {}
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) => {
                AppError::Unavailable(format!("database unavailable: {m}"))
            }
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<SharedError> for AppError {
    fn from(e: SharedError) -> Self {
        match e {
            SharedError::Unavailable(m) => AppError::Unavailable(format!(
                "shared state (Redis) unavailable, retry later: {m}"
            )),
            SharedError::Protocol(m) => AppError::Internal(m),
        }
    }
}

impl From<AppError> for Status {
    fn from(e: AppError) -> Status {
        e.log();
        let mut status = Status::new(e.code(), e.to_string());
        if let AppError::RateLimited {
            retry_after_secs, ..
        } = &e
            && let Ok(v) = retry_after_secs.to_string().parse()
        {
            status.metadata_mut().insert("retry-after", v);
        }
        status
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.log();
        let status = self.http();
        (
            status,
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response()
    }
}
