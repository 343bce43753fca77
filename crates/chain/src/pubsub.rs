//! Live program events over the node's WebSocket (`logsSubscribe`), with reconnect.
//!
//! One background task holds one WebSocket and one `logsSubscribe` per program (the
//! `mentions` filter takes a single address). A transaction that mentions several of our
//! programs arrives once per subscription, so notices are de-duplicated by signature over
//! a bounded window. When the connection drops the task reconnects with bounded backoff
//! and, once resubscribed, sends [`Notice::Reconnected`]: events in the gap were missed,
//! and the consumer must reconcile from chain state (the coordinator's gateway does).
//! The channel is bounded: a consumer that stops reading slows the task down instead of
//! growing memory; a consumer that drops the receiver stops the task.

use std::{
    collections::{HashSet, VecDeque},
    time::Duration,
};

use anchor_lang::prelude::Pubkey;
use futures_util::{StreamExt, stream::SelectAll};
use solana_commitment_config::CommitmentConfig;
use solana_pubsub_client::nonblocking::pubsub_client::PubsubClient;
use solana_rpc_client_api::config::{RpcTransactionLogsConfig, RpcTransactionLogsFilter};
use solana_signature::Signature;
use tokio::{sync::mpsc, task::JoinHandle};

use crate::{
    ChainError,
    events::{ProgramEvent, decode_logs},
};

/// Capacity of the notice channel.
pub const CHANNEL_CAPACITY: usize = 1024;
/// Signatures remembered for de-duplication.
const DEDUP_WINDOW: usize = 4096;
/// Longest wait for a WebSocket connection and its subscriptions to be established.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// What the subscription delivers.
#[derive(Debug, Clone)]
pub enum Notice {
    /// A transaction that mentioned a watched program. `failed` transactions carry no
    /// events (their effects were rolled back) but are reported for completeness.
    Transaction {
        signature: Signature,
        slot: u64,
        failed: bool,
        events: Vec<ProgramEvent>,
    },
    /// The subscription (re)connected after a drop: anything in between was missed.
    Reconnected { attempt: u32 },
}

/// Reconnect bounds.
#[derive(Debug, Clone, Copy)]
pub struct ReconnectPolicy {
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Consecutive failed connection attempts before the task gives up (and closes the
    /// channel, which the consumer sees as `None`). `None`: never give up.
    pub max_consecutive_failures: Option<u32>,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            max_consecutive_failures: None,
        }
    }
}

/// A running subscription. Dropping it stops the background task.
#[derive(Debug)]
pub struct EventSubscription {
    rx: mpsc::Receiver<Notice>,
    task: JoinHandle<Result<(), ChainError>>,
}

impl EventSubscription {
    /// Subscribes to the logs of `programs` at `ws_url` (ws:// or wss://). Returns once the
    /// first connection and subscriptions are established, so no event after this call
    /// is missed; a bad URL or unreachable node is an error here.
    pub async fn start(
        ws_url: &str,
        programs: &[Pubkey],
        commitment: CommitmentConfig,
        policy: ReconnectPolicy,
    ) -> Result<EventSubscription, ChainError> {
        if !(ws_url.starts_with("ws://") || ws_url.starts_with("wss://")) {
            return Err(ChainError::Connection {
                url: ws_url.to_string(),
                reason: "not a ws(s) URL".into(),
            });
        }
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(run(
            ws_url.to_string(),
            programs.to_vec(),
            commitment,
            policy,
            tx,
            ready_tx,
        ));
        match ready_rx.await {
            Ok(Ok(())) => Ok(EventSubscription { rx, task }),
            Ok(Err(e)) => {
                task.abort();
                Err(e)
            }
            Err(_) => Err(match task.await {
                Ok(Err(e)) => e,
                _ => ChainError::Subscription("subscription task ended".into()),
            }),
        }
    }

    /// The next notice; `None` once the task has stopped (gave up reconnecting).
    pub async fn next(&mut self) -> Option<Notice> {
        self.rx.recv().await
    }

    /// The events of the next successful transaction that emitted any (skipping
    /// reconnect notices and failed transactions), with its signature, waiting at most
    /// `timeout`.
    pub async fn next_events(
        &mut self,
        timeout: Duration,
    ) -> Option<(Signature, Vec<ProgramEvent>)> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(Notice::Transaction {
                    signature,
                    events,
                    failed: false,
                    ..
                })) if !events.is_empty() => return Some((signature, events)),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return None,
            }
        }
    }
}

impl Drop for EventSubscription {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(
    url: String,
    programs: Vec<Pubkey>,
    commitment: CommitmentConfig,
    policy: ReconnectPolicy,
    tx: mpsc::Sender<Notice>,
    ready: tokio::sync::oneshot::Sender<Result<(), ChainError>>,
) -> Result<(), ChainError> {
    let mut ready = Some(ready);
    let mut seen: HashSet<Signature> = HashSet::new();
    let mut order: VecDeque<Signature> = VecDeque::new();
    let mut backoff = policy.initial_backoff;
    let mut failures = 0u32;
    let mut connections = 0u32;

    loop {
        let session = async {
            // A server that accepts TCP but never completes the handshake must not hang
            // the subscriber.
            let client = tokio::time::timeout(CONNECT_TIMEOUT, PubsubClient::new(url.as_str()))
                .await
                .map_err(|_| ChainError::Connection {
                    url: url.clone(),
                    reason: format!("no WebSocket handshake within {CONNECT_TIMEOUT:?}"),
                })?
                .map_err(|e| ChainError::Connection {
                    url: url.clone(),
                    reason: e.to_string(),
                })?;
            let mut streams = SelectAll::new();
            let mut unsubscribes = Vec::new();
            for program in &programs {
                let (stream, unsubscribe) = tokio::time::timeout(
                    CONNECT_TIMEOUT,
                    client.logs_subscribe(
                        RpcTransactionLogsFilter::Mentions(vec![program.to_string()]),
                        RpcTransactionLogsConfig {
                            commitment: Some(commitment),
                        },
                    ),
                )
                .await
                .map_err(|_| {
                    ChainError::Subscription(format!(
                        "logsSubscribe not answered within {CONNECT_TIMEOUT:?}"
                    ))
                })?
                .map_err(|e| ChainError::Subscription(e.to_string()))?;
                streams.push(stream);
                unsubscribes.push(unsubscribe);
            }
            // Subscribed: from here on nothing is missed.
            failures = 0;
            backoff = policy.initial_backoff;
            connections += 1;
            if let Some(r) = ready.take() {
                let _ = r.send(Ok(()));
            } else if tx
                .send(Notice::Reconnected {
                    attempt: connections - 1,
                })
                .await
                .is_err()
            {
                return Ok(true);
            }
            while let Some(resp) = streams.next().await {
                let Ok(signature) = resp.value.signature.parse::<Signature>() else {
                    continue;
                };
                if !seen.insert(signature) {
                    continue;
                }
                order.push_back(signature);
                if order.len() > DEDUP_WINDOW
                    && let Some(old) = order.pop_front()
                {
                    seen.remove(&old);
                }
                let failed = resp.value.err.is_some();
                let events = if failed {
                    Vec::new()
                } else {
                    decode_logs(&resp.value.logs)
                };
                let notice = Notice::Transaction {
                    signature,
                    slot: resp.context.slot,
                    failed,
                    events,
                };
                if tx.send(notice).await.is_err() {
                    return Ok(true); // consumer gone
                }
            }
            drop(streams);
            for unsubscribe in unsubscribes {
                unsubscribe().await;
            }
            Ok::<bool, ChainError>(false)
        };
        match session.await {
            Ok(true) => return Ok(()),
            Ok(false) => {} // stream ended: reconnect
            Err(e) => {
                if let Some(r) = ready.take() {
                    let _ = r.send(Err(e));
                    return Ok(());
                }
                failures += 1;
                if policy
                    .max_consecutive_failures
                    .is_some_and(|max| failures >= max)
                {
                    return Err(e);
                }
            }
        }
        if tx.is_closed() {
            return Ok(());
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(policy.max_backoff);
    }
}
