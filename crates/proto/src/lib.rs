//! The coordinator's wire API: the generated gRPC code for `cyxwiz.coordinator.v1`
//! (`proto/cyxwiz/coordinator/v1/coordinator.proto`) and [`auth`], the wallet-signature
//! scheme every call carries; [`admin`], the node daemon's admin-socket protocol (`cyxwiz
//! status`, `peers`, `network …`); [`config`], the layered configuration.
//!
//! Kept apart from the coordinator so that the node-agent and engine-client get the
//! clients without the coordinator's database and cache dependencies.
#![forbid(unsafe_code)]

pub mod admin;
pub mod auth;
pub mod config;

/// Generated messages, clients (`*_client`) and servers (`*_server`).
pub mod v1 {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("cyxwiz.coordinator.v1");

    /// The encoded file descriptor set, for gRPC reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("coordinator_descriptor");
}

/// Full gRPC method names: what a request signature covers.
pub mod methods {
    pub const SUBMIT_JOB: &str = "/cyxwiz.coordinator.v1.EngineService/SubmitJob";
    pub const CONFIRM_ESCROW: &str = "/cyxwiz.coordinator.v1.EngineService/ConfirmEscrow";
    pub const GET_JOB_STATUS: &str = "/cyxwiz.coordinator.v1.EngineService/GetJobStatus";
    pub const WATCH_JOB: &str = "/cyxwiz.coordinator.v1.EngineService/WatchJob";
    pub const CANCEL_JOB: &str = "/cyxwiz.coordinator.v1.EngineService/CancelJob";
    pub const RATE_NODE: &str = "/cyxwiz.coordinator.v1.EngineService/RateNode";
    pub const REGISTER_NODE: &str = "/cyxwiz.coordinator.v1.NodeService/RegisterNode";
    pub const HEARTBEAT: &str = "/cyxwiz.coordinator.v1.NodeService/Heartbeat";
    pub const POLL_ASSIGNMENTS: &str = "/cyxwiz.coordinator.v1.NodeService/PollAssignments";
    pub const VERIFY_TOKEN: &str = "/cyxwiz.coordinator.v1.NodeService/VerifyToken";
    pub const REPORT_PROGRESS: &str = "/cyxwiz.coordinator.v1.NodeService/ReportProgress";
    pub const REPORT_COMPLETION: &str = "/cyxwiz.coordinator.v1.NodeService/ReportCompletion";
}
