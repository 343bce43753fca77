//! The CyxWiz coordinator ("Central Server" of the spec, workflow phases 1–3).
//!
//! Layout:
//! - [`config`]: file + environment + flags.
//! - [`types`], [`pricing`], [`scheduler`]: the domain, the spec's pricing model and the
//!   matching policy (pure, unit-tested).
//! - [`store`]: jobs, nodes, assignments, progress, payments, reputation batches and
//!   processed events on PostgreSQL or SQLite (sqlx, `migrations/`).
//! - [`shared`]: state replicas share (reservations, rate limits, single-use ids,
//!   leases) on Redis or in-process.
//! - [`gateway`]: the chain: escrow verification, assignment, timeout refunds,
//!   reputation batches, events.
//! - [`jwt`]: the single-use EdDSA P2P credential.
//! - [`service`]: the behaviour; [`sync`]: chain events and reconciliation into the
//!   database; [`workers`]: periodic work under a leader lease.
//! - [`grpc`], [`rest`], [`error`]: the edges; [`server`]: assembly and `run`.
#![forbid(unsafe_code)]

pub mod config;
pub mod error;
pub mod gateway;
pub mod grpc;
pub mod jwt;
pub mod pricing;
pub mod rest;
pub mod scheduler;
pub mod server;
pub mod service;
pub mod shared;
pub mod store;
pub mod sync;
pub mod types;
pub mod workers;
