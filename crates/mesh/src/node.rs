//! The swarm task: one tokio task owns the libp2p swarm and every piece of mesh state
//! (peer table, admission, pending queries), and talks to the [`crate::Mesh`] handle
//! only through bounded channels. Stake checks run in spawned tasks (the oracle is
//! async and may be slow) bounded by a semaphore; their answers come back on a bounded
//! channel, so the swarm loop never waits on the chain.
//!
//! Behaviours, in the order a new connection passes them: the peer gate (max_peers and
//! prefix quotas, [`crate::diversity`]), relay v2 client and (on reachable nodes)
//! server, DCUtR hole punching, AutoNAT, identify, ping, Kademlia, gossipsub, the peer
//! protocol ([`crate::protocol`]) and (optionally) mDNS.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use futures::StreamExt;
use libp2p::{
    Multiaddr, PeerId, StreamProtocol, Swarm, autonat, dcutr, gossipsub, identify,
    kad::{self, store::MemoryStore, store::MemoryStoreConfig, store::RecordStore},
    mdns, noise, ping, relay,
    request_response::{self, ProtocolSupport, ResponseChannel},
    swarm::{NetworkBehaviour, SwarmEvent, behaviour::toggle::Toggle},
    tcp, yamux,
};
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::{
    MeshError,
    admission::{Admission, DropReason, Precheck},
    config::MeshConfig,
    diversity::{PeerGate, PrefixCounter},
    identity::{NodeId, NodeKey, node_id_of},
    oracle::{StakeCache, StakeOracle, StakeStatus},
    protocol::{self, LeaveReason, PeerRequest, PeerResponse},
    record::{Announcement, MAX_RECORD_BYTES, NodeType, OnionKeys, SignedAnnouncement},
    stats::{
        GossipStats, HolePunchStats, MeshStats, PeerInfo, RateWindow, Topology, TopologyEdge,
        TopologyNode, TransportKind, ms,
    },
};

pub const KAD_PROTOCOL: StreamProtocol = StreamProtocol::new("/cyxwiz/kad/1.0.0");
pub const IDENTIFY_PROTOCOL: &str = "/cyxwiz/id/1.0.0";
/// The gossip topic announcements travel on.
pub const ANNOUNCE_TOPIC: &str = "cyxwiz/announce/1";
const RECORD_KEY_PREFIX: &[u8] = b"/cyxwiz/node/1/";
const PROVIDER_KEY_PREFIX: &str = "/cyxwiz/cap/1/";
/// Most records and provider keys the local DHT store holds.
const MAX_DHT_RECORDS: usize = 4_096;
const MAX_PROVIDERS_PER_KEY: usize = 64;
/// Neighbour queries sent per discovery round (bounded fan-out).
const NEIGHBOUR_QUERIES_PER_ROUND: usize = 16;
/// Lookups waiting at once; more fail fast.
const MAX_PENDING_QUERIES: usize = 256;

/// The DHT key of a node's announcement.
pub fn record_key(node: &NodeId) -> kad::RecordKey {
    let mut k = RECORD_KEY_PREFIX.to_vec();
    k.extend_from_slice(node.as_bytes());
    kad::RecordKey::new(&k)
}

/// The DHT provider key of a capability at a stake tier (`None`: unstaked).
pub fn provider_key(capability: &str, tier: Option<u8>) -> kad::RecordKey {
    let t = tier.map_or_else(|| "-".to_string(), |t| t.to_string());
    kad::RecordKey::new(&format!("{PROVIDER_KEY_PREFIX}{capability}/{t}"))
}

/// The implicit capability every node provides for its type (`type:compute`, …), so
/// engines can find compute nodes without knowing any other capability.
pub fn type_capability(t: NodeType) -> String {
    format!("type:{}", t.as_str())
}

pub(crate) fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// What the local node announces about itself; the task adds id, time, TTL, sequence
/// and (if none are given) its listen and external addresses, and re-signs on every
/// republication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalAnnouncement {
    pub node_type: NodeType,
    pub tier: Option<u8>,
    pub capabilities: Vec<String>,
    pub region: String,
    pub onion: OnionKeys,
    /// Addresses to announce; empty means "what the swarm listens on / was confirmed at".
    pub addresses: Vec<Multiaddr>,
}

/// An admitted node, as lookups return it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NodeRecord {
    pub peer_id: String,
    pub announcement: Announcement,
    /// The oracle's answer when the record needed one.
    pub stake: Option<StakeStatus>,
}

impl NodeRecord {
    fn new(signed: &SignedAnnouncement, stake: Option<StakeStatus>) -> Self {
        let peer_id = signed
            .announcement
            .node_id
            .peer_id()
            .map(|p| p.to_string())
            .unwrap_or_default();
        NodeRecord {
            peer_id,
            announcement: signed.announcement.clone(),
            stake,
        }
    }
}

/// Events the task reports to the application (dropped and counted if the queue is full).
#[derive(Debug, Clone)]
pub enum MeshEvent {
    Listening(Multiaddr),
    PeerConnected {
        peer: PeerId,
    },
    /// A connection to `peer` was established (every one, not only the first), with
    /// whether it runs through a relay circuit: a hole punch shows as a relayed
    /// connection followed by a direct one, which `PeerConnected` alone cannot tell.
    Connection {
        peer: PeerId,
        address: Multiaddr,
        relayed: bool,
    },
    PeerDisconnected {
        peer: PeerId,
    },
    /// The peer said GOODBYE and was dropped.
    PeerLeft {
        peer: PeerId,
    },
    NodeAdmitted(Box<NodeRecord>),
    AnnouncementDropped {
        from: Option<PeerId>,
        reason: DropReason,
    },
    NatStatus(String),
    HolePunch {
        peer: PeerId,
        success: bool,
    },
    RelayReservation {
        relay: PeerId,
    },
}

pub(crate) enum Command {
    Publish {
        local: LocalAnnouncement,
        reply: oneshot::Sender<Result<NodeRecord, MeshError>>,
    },
    Lookup {
        node: NodeId,
        reply: oneshot::Sender<Option<NodeRecord>>,
    },
    Providers {
        key: kad::RecordKey,
        reply: oneshot::Sender<Vec<PeerId>>,
    },
    PushAnnouncement {
        peer: PeerId,
        bytes: Vec<u8>,
        reply: oneshot::Sender<Result<PeerResponse, MeshError>>,
    },
    Inject {
        bytes: Vec<u8>,
        reply: oneshot::Sender<Result<NodeRecord, DropReason>>,
    },
    Dial {
        addr: Multiaddr,
        reply: oneshot::Sender<Result<(), MeshError>>,
    },
    ListenAddrs(oneshot::Sender<Vec<Multiaddr>>),
    Peers(oneshot::Sender<Vec<PeerInfo>>),
    Stats(oneshot::Sender<MeshStats>),
    Topology(oneshot::Sender<Topology>),
    Known(oneshot::Sender<Vec<NodeRecord>>),
    RoutingTable(oneshot::Sender<Vec<PeerId>>),
    Shutdown(oneshot::Sender<()>),
}

#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    gate: PeerGate,
    relay_client: relay::client::Behaviour,
    relay: Toggle<relay::Behaviour>,
    dcutr: dcutr::Behaviour,
    autonat: autonat::Behaviour,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    kad: kad::Behaviour<MemoryStore>,
    gossip: gossipsub::Behaviour,
    peer: request_response::cbor::Behaviour<PeerRequest, PeerResponse>,
    mdns: Toggle<mdns::tokio::Behaviour>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn build_behaviour(
    key: &libp2p::identity::Keypair,
    relay_client: relay::client::Behaviour,
    cfg: &MeshConfig,
) -> Result<Behaviour, BoxError> {
    let peer_id = key.public().to_peer_id();
    let mut kc = kad::Config::new(KAD_PROTOCOL);
    kc.set_query_timeout(cfg.query_timeout)
        // Records are validated before they are stored (signature, key, freshness).
        .set_record_filtering(kad::StoreInserts::FilterBoth)
        // Peers enter the routing table only through the prefix quota.
        .set_kbucket_inserts(kad::BucketInserts::Manual)
        .set_record_ttl(Some(cfg.record_ttl))
        .set_provider_record_ttl(Some(cfg.record_ttl))
        .set_max_packet_size(16 * 1024)
        // The discovery tick bootstraps; kad's own timer would double it.
        .set_periodic_bootstrap_interval(None);
    let store = MemoryStore::with_config(
        peer_id,
        MemoryStoreConfig {
            max_records: MAX_DHT_RECORDS,
            max_value_bytes: MAX_RECORD_BYTES,
            max_providers_per_key: MAX_PROVIDERS_PER_KEY,
            max_provided_keys: 2 * crate::record::MAX_CAPABILITIES + 2,
        },
    );
    let mut kad = kad::Behaviour::with_config(peer_id, store, kc);
    if cfg.reachable {
        // Kademlia would stay a client until an external address is confirmed; on a
        // reachable, LAN or test network the node must serve from the start.
        kad.set_mode(Some(kad::Mode::Server));
    }

    let g = &cfg.gossip;
    let gossip_cfg = gossipsub::ConfigBuilder::default()
        .mesh_outbound_min(g.mesh_outbound_min)
        .mesh_n_low(g.mesh_n_low)
        .mesh_n(g.mesh_n)
        .mesh_n_high(g.mesh_n_high)
        .heartbeat_interval(g.heartbeat)
        .validation_mode(gossipsub::ValidationMode::Strict)
        .validate_messages()
        .max_transmit_size(MAX_RECORD_BYTES + 1_024)
        // Content-addressed ids: the same record published twice is one message.
        .message_id_fn(|m: &gossipsub::Message| {
            use sha2::Digest;
            gossipsub::MessageId::from(sha2::Sha256::digest(&m.data).to_vec())
        })
        .build()?;
    let mut gossip = gossipsub::Behaviour::new(
        gossipsub::MessageAuthenticity::Signed(key.clone()),
        gossip_cfg,
    )?;
    gossip.subscribe(&gossipsub::IdentTopic::new(ANNOUNCE_TOPIC))?;

    let peer = request_response::cbor::Behaviour::with_codec(
        request_response::cbor::codec::Codec::default()
            .set_request_size_maximum(protocol::MAX_REQUEST_BYTES)
            .set_response_size_maximum(protocol::MAX_RESPONSE_BYTES),
        [(protocol::PROTOCOL, ProtocolSupport::Full)],
        request_response::Config::default()
            .with_request_timeout(Duration::from_secs(10))
            .with_max_concurrent_streams(64),
    );

    let autonat = autonat::Behaviour::new(
        peer_id,
        autonat::Config {
            only_global_ips: !cfg.private_networks,
            ..Default::default()
        },
    );
    let mdns = if cfg.mdns {
        Some(mdns::tokio::Behaviour::new(
            mdns::Config::default(),
            peer_id,
        )?)
    } else {
        None
    };
    Ok(Behaviour {
        gate: PeerGate::new(cfg.max_peers, &cfg.diversity),
        relay_client,
        relay: cfg
            .reachable
            .then(|| relay::Behaviour::new(peer_id, cfg.relay_server.to_libp2p()))
            .into(),
        dcutr: dcutr::Behaviour::new(peer_id),
        autonat,
        identify: identify::Behaviour::new(
            identify::Config::new(IDENTIFY_PROTOCOL.into(), key.public())
                .with_agent_version(format!("cyxwiz-mesh/{}", env!("CARGO_PKG_VERSION"))),
        ),
        ping: ping::Behaviour::new(ping::Config::new()),
        kad,
        gossip,
        peer,
        mdns: mdns.into(),
    })
}

pub(crate) fn build_swarm(
    key: &NodeKey,
    cfg: &MeshConfig,
    registry: &mut libp2p::metrics::Registry,
) -> Result<Swarm<Behaviour>, MeshError> {
    let t = |e: &dyn std::fmt::Display| MeshError::Transport(e.to_string());
    let builder = libp2p::SwarmBuilder::with_existing_identity(key.libp2p_keypair().clone())
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| t(&e))?;
    #[cfg(feature = "quic")]
    let builder = builder.with_quic();
    let swarm = builder
        .with_relay_client(noise::Config::new, yamux::Config::default)
        .map_err(|e| t(&e))?
        .with_bandwidth_metrics(registry)
        .with_behaviour(|k, relay_client| build_behaviour(k, relay_client, cfg))
        .map_err(|e| t(&e))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(cfg.idle_timeout))
        .build();
    Ok(swarm)
}

/// Where a record being stake-checked came from, so the verdict goes back there.
enum Origin {
    Gossip {
        msg_id: gossipsub::MessageId,
        source: PeerId,
    },
    Direct {
        peer: PeerId,
        channel: ResponseChannel<PeerResponse>,
    },
    Lookup {
        query: kad::QueryId,
    },
    Inject {
        reply: oneshot::Sender<Result<NodeRecord, DropReason>>,
    },
}

struct CheckDone {
    id: u64,
    node: NodeId,
    result: Result<StakeStatus, crate::oracle::OracleError>,
}

#[derive(Default)]
struct PeerState {
    conns: HashMap<libp2p::swarm::ConnectionId, (Multiaddr, bool)>,
    rtt: Option<Duration>,
}

struct LookupState {
    node: NodeId,
    replies: Vec<oneshot::Sender<Option<NodeRecord>>>,
    /// A candidate is being stake-checked; the query waits for it.
    checking: bool,
    finished: bool,
}

struct Counters {
    gossip_received: u64,
    gossip_published: u64,
    gossip_rejected: u64,
    hole_punch_ok: u64,
    hole_punch_failed: u64,
    reservations: u64,
    goodbyes_sent: u64,
    goodbyes_received: u64,
    routing_denied: u64,
    events_dropped: u64,
}

pub(crate) struct Task {
    swarm: Swarm<Behaviour>,
    cfg: MeshConfig,
    key: NodeKey,
    oracle: Arc<dyn StakeOracle>,
    registry: libp2p::metrics::Registry,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<MeshEvent>,
    checks_tx: mpsc::Sender<CheckDone>,
    checks_rx: mpsc::Receiver<CheckDone>,
    check_permits: Arc<Semaphore>,
    pending_checks: HashMap<u64, (SignedAnnouncement, Origin)>,
    next_check: u64,
    cache: StakeCache,
    admission: Admission,
    peers: HashMap<PeerId, PeerState>,
    routing: PrefixCounter,
    lookups: HashMap<kad::QueryId, LookupState>,
    providers: HashMap<kad::QueryId, (HashSet<PeerId>, oneshot::Sender<Vec<PeerId>>)>,
    pushes: HashMap<
        request_response::OutboundRequestId,
        oneshot::Sender<Result<PeerResponse, MeshError>>,
    >,
    goodbyes: HashSet<request_response::OutboundRequestId>,
    neighbours: HashMap<PeerId, (Vec<PeerId>, Instant)>,
    local: Option<LocalAnnouncement>,
    own: Option<SignedAnnouncement>,
    provided: HashSet<kad::RecordKey>,
    last_seq: u64,
    nat_status: String,
    started: Instant,
    gossip_in: RateWindow,
    gossip_out: RateWindow,
    counters: Counters,
    /// Circuit listeners on configured relays, by listener, with the relay's peer id.
    relay_listeners: HashMap<libp2p::core::transport::ListenerId, PeerId>,
}

impl Task {
    pub(crate) fn new(
        swarm: Swarm<Behaviour>,
        cfg: MeshConfig,
        key: NodeKey,
        oracle: Arc<dyn StakeOracle>,
        registry: libp2p::metrics::Registry,
        commands: mpsc::Receiver<Command>,
        events: mpsc::Sender<MeshEvent>,
    ) -> Self {
        let now = Instant::now();
        let (checks_tx, checks_rx) = mpsc::channel(cfg.max_inflight_checks);
        Task {
            check_permits: Arc::new(Semaphore::new(cfg.max_inflight_checks)),
            cache: StakeCache::new(cfg.stake_cache),
            admission: Admission::new(cfg.admission, now),
            routing: PrefixCounter::new(cfg.diversity.quota(cfg.diversity.routing_table_target)),
            swarm,
            key,
            oracle,
            registry,
            commands,
            events,
            checks_tx,
            checks_rx,
            pending_checks: HashMap::new(),
            next_check: 0,
            peers: HashMap::new(),
            lookups: HashMap::new(),
            providers: HashMap::new(),
            pushes: HashMap::new(),
            goodbyes: HashSet::new(),
            neighbours: HashMap::new(),
            local: None,
            own: None,
            provided: HashSet::new(),
            last_seq: 0,
            nat_status: "unknown".into(),
            started: now,
            gossip_in: RateWindow::new(now),
            gossip_out: RateWindow::new(now),
            relay_listeners: HashMap::new(),
            counters: Counters {
                gossip_received: 0,
                gossip_published: 0,
                gossip_rejected: 0,
                hole_punch_ok: 0,
                hole_punch_failed: 0,
                reservations: 0,
                goodbyes_sent: 0,
                goodbyes_received: 0,
                routing_denied: 0,
                events_dropped: 0,
            },
            cfg,
        }
    }

    /// Starts listening, dials the bootstrap peers and reserves relay slots.
    pub(crate) fn start(&mut self) -> Result<(), MeshError> {
        for addr in self.cfg.listen.clone() {
            self.swarm
                .listen_on(addr.clone())
                .map_err(|e| MeshError::Listen {
                    addr: addr.to_string(),
                    reason: e.to_string(),
                })?;
        }
        for addr in self.cfg.external_addresses.clone() {
            self.swarm.add_external_address(addr);
        }
        // Reservations first: the relay client dials its relay only if no dial to it
        // is in flight, so a bootstrap dial to the same peer would make it give up.
        self.reserve_relays();
        self.dial_bootstrap();
        Ok(())
    }

    /// Listens through every configured relay that has no live circuit listener: at
    /// start, and on each discovery round after a reservation failed or its relay
    /// connection closed (the relay client does not retry by itself).
    fn reserve_relays(&mut self) {
        if self.cfg.reachable {
            return;
        }
        for relay in self.cfg.relays.clone() {
            let Some(peer) = peer_of(&relay) else {
                tracing::warn!(%relay, "relay address without /p2p/<peer id>: not reserving");
                continue;
            };
            if self.relay_listeners.values().any(|p| *p == peer) {
                continue;
            }
            let circuit = relay.clone().with(libp2p::multiaddr::Protocol::P2pCircuit);
            match self.swarm.listen_on(circuit) {
                Ok(id) => {
                    self.relay_listeners.insert(id, peer);
                }
                Err(e) => tracing::warn!(%relay, error = %e, "cannot reserve on relay"),
            }
        }
    }

    fn dial_bootstrap(&mut self) {
        for addr in self.cfg.bootstrap.clone() {
            let peer = addr.iter().find_map(|p| match p {
                libp2p::multiaddr::Protocol::P2p(id) => Some(id),
                _ => None,
            });
            if let Some(peer) = peer {
                if peer == *self.swarm.local_peer_id() || self.swarm.is_connected(&peer) {
                    continue;
                }
                // A bootstrap peer is routable by configuration (subject to the quota).
                self.add_routing(peer, addr.clone());
                // A relay we reserve on is being dialled by the relay client; a second
                // dial would abort that one (and with it the reservation).
                if self.relay_listeners.values().any(|p| *p == peer) {
                    continue;
                }
            }
            if let Err(e) = self.swarm.dial(addr.clone()) {
                tracing::debug!(%addr, error = %e, "bootstrap dial failed");
            }
        }
    }

    pub(crate) async fn run(mut self) {
        // The first round waits a little so bootstrap dials have landed (a Kademlia
        // bootstrap with an empty table only fails), then runs every interval.
        let first = self.cfg.discovery_interval.min(Duration::from_secs(5));
        let mut discovery = tokio::time::interval_at(
            tokio::time::Instant::now() + first,
            self.cfg.discovery_interval,
        );
        let mut announce = tokio::time::interval(self.cfg.announce_interval);
        discovery.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        announce.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        announce.tick().await; // the first tick is immediate; nothing is published yet
        loop {
            tokio::select! {
                ev = self.swarm.select_next_some() => self.on_swarm_event(ev),
                Some(done) = self.checks_rx.recv() => self.on_check_done(done),
                cmd = self.commands.recv() => match cmd {
                    Some(Command::Shutdown(reply)) => {
                        self.goodbye().await;
                        let _ = reply.send(());
                        return;
                    }
                    Some(cmd) => self.on_command(cmd),
                    // Every handle dropped: leave politely all the same.
                    None => {
                        self.goodbye().await;
                        return;
                    }
                },
                _ = discovery.tick() => self.discover(),
                _ = announce.tick() => {
                    if let Some(local) = self.local.clone() && let Err(e) = self.publish(local) {
                        tracing::warn!(error = %e, "republishing the announcement failed");
                    }
                }
            }
        }
    }

    fn emit(&mut self, ev: MeshEvent) {
        if self.events.try_send(ev).is_err() {
            self.counters.events_dropped += 1;
        }
    }

    // ── Publication ─────────────────────────────────────────────────────────

    fn announced_addresses(&self, local: &LocalAnnouncement) -> Vec<Multiaddr> {
        let mut addrs: Vec<Multiaddr> = if local.addresses.is_empty() {
            let ext: Vec<Multiaddr> = self.swarm.external_addresses().cloned().collect();
            let mut derived: Vec<Multiaddr> = if ext.is_empty() {
                self.swarm
                    .listeners()
                    .filter(|a| !is_unspecified(a))
                    .cloned()
                    .collect()
            } else {
                ext
            };
            // Off private networks, only addresses a remote peer can use (a NATed
            // node's relay circuits, confirmed external addresses), not its loopback
            // and LAN ones. Addresses the caller lists are announced as given.
            if !self.cfg.private_networks {
                derived.retain(crate::diversity::globally_routable);
            }
            derived
        } else {
            local.addresses.clone()
        };
        addrs.retain(|a| a.as_ref().len() <= crate::record::MAX_ADDRESS_LEN);
        addrs.truncate(crate::record::MAX_ADDRESSES);
        addrs
    }

    fn publish(&mut self, local: LocalAnnouncement) -> Result<NodeRecord, MeshError> {
        // Sequence from the wall clock in milliseconds, so a restarted node's records are
        // newer than the ones it published before without storing a counter.
        self.last_seq = (self.last_seq + 1).max(now_millis());
        let ann = Announcement {
            node_id: self.key.node_id(),
            node_type: local.node_type,
            tier: local.tier,
            capabilities: local.capabilities.clone(),
            region: local.region.clone(),
            onion: local.onion.clone(),
            addresses: self.announced_addresses(&local),
            issued_at: now_unix(),
            ttl_secs: self.cfg.record_ttl.as_secs() as u32,
            seq: self.last_seq,
        };
        let signed = ann.sign(&self.key).map_err(MeshError::Record)?;
        let bytes = signed.encode();
        let kad = &mut self.swarm.behaviour_mut().kad;
        let record = kad::Record {
            key: record_key(&signed.announcement.node_id),
            value: bytes.clone(),
            publisher: None,
            expires: Some(Instant::now() + self.cfg.record_ttl),
        };
        if let Err(e) = kad.put_record(record, kad::Quorum::One) {
            tracing::warn!(error = ?e, "storing the own announcement failed");
        }
        let mut keys: HashSet<kad::RecordKey> = local
            .capabilities
            .iter()
            .map(|c| provider_key(c, local.tier))
            .collect();
        keys.insert(provider_key(&type_capability(local.node_type), local.tier));
        for old in self.provided.difference(&keys).cloned().collect::<Vec<_>>() {
            kad.stop_providing(&old);
        }
        for k in &keys {
            // Re-providing refreshes the provider records on the closest peers.
            if let Err(e) = kad.start_providing(k.clone()) {
                tracing::warn!(error = ?e, "providing a capability failed");
            }
        }
        self.provided = keys;
        match self
            .swarm
            .behaviour_mut()
            .gossip
            .publish(gossipsub::IdentTopic::new(ANNOUNCE_TOPIC), bytes.clone())
        {
            Ok(_) => {
                self.counters.gossip_published += 1;
                self.gossip_out.record(Instant::now());
            }
            // A lone node has nobody to gossip to; the DHT and direct announces cover it.
            Err(e) => tracing::debug!(error = %e, "gossip publish"),
        }
        // Direct announce to peers already connected (new ones get it on connect).
        let peers: Vec<PeerId> = self.peers.keys().copied().collect();
        for p in peers {
            self.swarm
                .behaviour_mut()
                .peer
                .send_request(&p, PeerRequest::Announce(bytes.clone()));
        }
        self.local = Some(local);
        self.own = Some(signed.clone());
        Ok(NodeRecord::new(&signed, None))
    }

    // ── Admission ───────────────────────────────────────────────────────────

    /// Runs the synchronous checks on a received record and either settles it or
    /// starts a stake check.
    fn receive(
        &mut self,
        bytes: &[u8],
        expected: Option<NodeId>,
        from: Option<PeerId>,
        origin: Origin,
    ) {
        let now = Instant::now();
        match self
            .admission
            .precheck(bytes, expected.as_ref(), now_unix(), now)
        {
            Err(reason) => {
                self.emit(MeshEvent::AnnouncementDropped { from, reason });
                self.settle(origin, None, Err(reason));
            }
            Ok(Precheck::Duplicate) => {
                let node = SignedAnnouncement::decode(bytes)
                    .ok()
                    .map(|s| s.announcement.node_id);
                let rec = node
                    .and_then(|n| self.admission.get(&n))
                    .map(|k| NodeRecord::new(&k.signed, k.stake));
                self.settle_duplicate(origin, rec);
            }
            Ok(Precheck::Admit(signed)) => self.finish_admission(signed, None, origin),
            Ok(Precheck::NeedsStake(signed)) => {
                let node = signed.announcement.node_id;
                if let Some(status) = self.cache.get(&node, now) {
                    self.judge(signed, status, origin);
                    return;
                }
                let Ok(permit) = self.check_permits.clone().try_acquire_owned() else {
                    self.admission.count_drop(DropReason::Overloaded);
                    self.settle(origin, None, Err(DropReason::Overloaded));
                    return;
                };
                let id = self.next_check;
                self.next_check += 1;
                self.pending_checks.insert(id, (signed, origin));
                let oracle = self.oracle.clone();
                let tx = self.checks_tx.clone();
                tokio::spawn(async move {
                    let result = oracle.stake_status(&node).await;
                    // Capacity equals the permits, so this never waits for long.
                    let _ = tx.send(CheckDone { id, node, result }).await;
                    drop(permit);
                });
            }
        }
    }

    fn on_check_done(&mut self, done: CheckDone) {
        let Some((signed, origin)) = self.pending_checks.remove(&done.id) else {
            return;
        };
        match done.result {
            Ok(status) => {
                self.cache.insert(done.node, status, Instant::now());
                self.judge(signed, status, origin);
            }
            Err(e) => {
                tracing::debug!(node = %done.node, error = %e, "stake oracle failed");
                self.admission.count_drop(DropReason::OracleUnavailable);
                self.settle(origin, None, Err(DropReason::OracleUnavailable));
            }
        }
    }

    fn judge(&mut self, signed: SignedAnnouncement, status: StakeStatus, origin: Origin) {
        match Admission::judge_stake(&signed, &status) {
            Ok(()) => self.finish_admission(signed, Some(status), origin),
            Err(reason) => {
                self.admission.count_drop(reason);
                self.emit(MeshEvent::AnnouncementDropped { from: None, reason });
                self.settle(origin, None, Err(reason));
            }
        }
    }

    fn finish_admission(
        &mut self,
        signed: SignedAnnouncement,
        stake: Option<StakeStatus>,
        origin: Origin,
    ) {
        match self.admission.admit(signed.clone(), stake, Instant::now()) {
            Ok(_) => {
                let rec = NodeRecord::new(&signed, stake);
                // Learn the node's addresses for routing (through the prefix quota).
                if let Ok(peer) = signed.announcement.node_id.peer_id() {
                    for a in signed.announcement.addresses.clone() {
                        self.add_routing(peer, a);
                    }
                }
                self.emit(MeshEvent::NodeAdmitted(Box::new(rec.clone())));
                self.settle(origin, Some(rec), Ok(()));
            }
            Err(reason) => self.settle(origin, None, Err(reason)),
        }
    }

    fn settle_duplicate(&mut self, origin: Origin, rec: Option<NodeRecord>) {
        match origin {
            Origin::Gossip { msg_id, source } => {
                self.swarm
                    .behaviour_mut()
                    .gossip
                    .report_message_validation_result(
                        &msg_id,
                        &source,
                        gossipsub::MessageAcceptance::Ignore,
                    );
            }
            other => {
                let ok = rec.is_some();
                self.settle(
                    other,
                    rec,
                    if ok {
                        Ok(())
                    } else {
                        Err(DropReason::Replayed)
                    },
                );
            }
        }
    }

    /// Sends a verdict back where the record came from.
    fn settle(&mut self, origin: Origin, rec: Option<NodeRecord>, verdict: Result<(), DropReason>) {
        match origin {
            Origin::Gossip { msg_id, source } => {
                let acceptance = match verdict {
                    Ok(()) => gossipsub::MessageAcceptance::Accept,
                    // Provably bad: penalise the forwarder.
                    Err(
                        DropReason::BadSignature | DropReason::Malformed | DropReason::Oversized,
                    ) => {
                        self.counters.gossip_rejected += 1;
                        gossipsub::MessageAcceptance::Reject
                    }
                    // Possibly benign (late, duplicate, or our own limits): just don't forward.
                    Err(_) => {
                        self.counters.gossip_rejected += 1;
                        gossipsub::MessageAcceptance::Ignore
                    }
                };
                self.swarm
                    .behaviour_mut()
                    .gossip
                    .report_message_validation_result(&msg_id, &source, acceptance);
            }
            Origin::Direct { peer, channel } => {
                let resp = PeerResponse::Ack {
                    accepted: verdict.is_ok(),
                    reason: verdict.err().map(|r| r.to_string()),
                };
                if self
                    .swarm
                    .behaviour_mut()
                    .peer
                    .send_response(channel, resp)
                    .is_err()
                {
                    tracing::debug!(%peer, "announce ack not sent: peer gone");
                }
            }
            Origin::Lookup { query } => {
                if let Some(state) = self.lookups.get_mut(&query) {
                    state.checking = false;
                    if let Some(rec) = rec {
                        let state = self.lookups.remove(&query).expect("present");
                        for r in state.replies {
                            let _ = r.send(Some(rec.clone()));
                        }
                        if let Some(mut q) = self.swarm.behaviour_mut().kad.query_mut(&query) {
                            q.finish();
                        }
                    } else if state.finished {
                        let state = self.lookups.remove(&query).expect("present");
                        for r in state.replies {
                            let _ = r.send(None);
                        }
                    }
                }
            }
            Origin::Inject { reply } => {
                let _ = reply.send(match (verdict, rec) {
                    (Ok(()), Some(rec)) => Ok(rec),
                    (Err(r), _) => Err(r),
                    (Ok(()), None) => Err(DropReason::Replayed),
                });
            }
        }
    }

    // ── Routing table and peers ─────────────────────────────────────────────

    fn add_routing(&mut self, peer: PeerId, addr: Multiaddr) {
        // On the internet a peer's loopback or LAN address reaches nobody (or someone
        // else) and would be counted under that private prefix's quota.
        if !self.cfg.private_networks && !crate::diversity::globally_routable(&addr) {
            return;
        }
        self.insert_routing(peer, addr);
    }

    /// `add_routing` without the address-class filter (mDNS finds LAN addresses by
    /// design).
    fn insert_routing(&mut self, peer: PeerId, addr: Multiaddr) {
        if peer == *self.swarm.local_peer_id() {
            return;
        }
        if self.routing.try_add(peer, &addr) {
            self.swarm.behaviour_mut().kad.add_address(&peer, addr);
        } else {
            self.counters.routing_denied += 1;
        }
    }

    /// GOODBYE from `peer`: forget it everywhere now.
    fn drop_departed(&mut self, peer: PeerId) {
        self.counters.goodbyes_received += 1;
        if let Some(node) = node_id_of(&peer) {
            self.admission.depart(&node);
            self.swarm
                .behaviour_mut()
                .kad
                .store_mut()
                .remove(&record_key(&node));
        }
        self.swarm.behaviour_mut().kad.remove_peer(&peer);
        self.routing.remove(&peer);
        self.neighbours.remove(&peer);
        self.peers.remove(&peer);
        self.swarm.behaviour_mut().gate.quarantine(peer);
        let _ = self.swarm.disconnect_peer_id(peer);
        self.emit(MeshEvent::PeerLeft { peer });
    }

    async fn goodbye(&mut self) {
        let peers: Vec<PeerId> = self.peers.keys().copied().collect();
        for p in &peers {
            let id = self
                .swarm
                .behaviour_mut()
                .peer
                .send_request(p, PeerRequest::Goodbye(LeaveReason::Shutdown));
            self.goodbyes.insert(id);
            self.counters.goodbyes_sent += 1;
        }
        let deadline = tokio::time::sleep(self.cfg.goodbye_timeout);
        tokio::pin!(deadline);
        while !self.goodbyes.is_empty() {
            tokio::select! {
                ev = self.swarm.select_next_some() => self.on_swarm_event(ev),
                _ = &mut deadline => break,
            }
        }
    }

    fn discover(&mut self) {
        self.reserve_relays();
        let connected = self.peers.len();
        if connected < self.cfg.max_peers {
            self.dial_bootstrap();
        }
        let kad = &mut self.swarm.behaviour_mut().kad;
        if kad.bootstrap().is_ok() && connected < self.cfg.max_peers {
            // A random walk finds peers beyond the closest buckets.
            kad.get_closest_peers(PeerId::random());
        }
        for gone in self.admission.prune(now_unix()) {
            tracing::debug!(node = %gone, "announcement expired");
        }
        let peers: Vec<PeerId> = self
            .peers
            .keys()
            .copied()
            .take(NEIGHBOUR_QUERIES_PER_ROUND)
            .collect();
        for p in peers {
            self.swarm
                .behaviour_mut()
                .peer
                .send_request(&p, PeerRequest::Neighbours);
        }
        let horizon = 4 * self.cfg.discovery_interval;
        self.neighbours.retain(|_, (_, at)| at.elapsed() < horizon);
    }

    // ── Swarm events ────────────────────────────────────────────────────────

    fn on_swarm_event(&mut self, ev: SwarmEvent<BehaviourEvent>) {
        match ev {
            SwarmEvent::ListenerClosed {
                listener_id,
                reason,
                ..
            } => {
                if let Some(relay) = self.relay_listeners.remove(&listener_id) {
                    tracing::info!(%relay, ?reason, "relay reservation ended; retried next round");
                }
            }
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "mesh listening");
                self.emit(MeshEvent::Listening(address));
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                num_established,
                ..
            } => {
                let st = self.peers.entry(peer_id).or_default();
                let address = endpoint.get_remote_address().clone();
                let relayed = endpoint.is_relayed();
                st.conns.insert(connection_id, (address.clone(), relayed));
                self.emit(MeshEvent::Connection {
                    peer: peer_id,
                    address,
                    relayed,
                });
                if num_established.get() == 1 {
                    if let Some(own) = &self.own {
                        let bytes = own.encode();
                        self.swarm
                            .behaviour_mut()
                            .peer
                            .send_request(&peer_id, PeerRequest::Announce(bytes));
                    }
                    self.swarm
                        .behaviour_mut()
                        .peer
                        .send_request(&peer_id, PeerRequest::Neighbours);
                    self.emit(MeshEvent::PeerConnected { peer: peer_id });
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                num_established,
                ..
            } => {
                if let Some(st) = self.peers.get_mut(&peer_id) {
                    st.conns.remove(&connection_id);
                }
                if num_established == 0 && self.peers.remove(&peer_id).is_some() {
                    self.emit(MeshEvent::PeerDisconnected { peer: peer_id });
                }
            }
            SwarmEvent::Behaviour(b) => self.on_behaviour_event(b),
            _ => {}
        }
    }

    fn on_behaviour_event(&mut self, ev: BehaviourEvent) {
        match ev {
            BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. }) => {
                let speaks_kad = info.protocols.contains(&KAD_PROTOCOL);
                if speaks_kad {
                    for a in info.listen_addrs {
                        if !is_unspecified(&a) {
                            self.add_routing(peer_id, a);
                        }
                    }
                }
            }
            BehaviourEvent::Kad(ev) => self.on_kad_event(ev),
            BehaviourEvent::Gossip(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            }) => {
                self.counters.gossip_received += 1;
                self.gossip_in.record(Instant::now());
                self.receive(
                    &message.data,
                    None,
                    Some(propagation_source),
                    Origin::Gossip {
                        msg_id: message_id,
                        source: propagation_source,
                    },
                );
            }
            BehaviourEvent::Peer(ev) => self.on_peer_event(ev),
            BehaviourEvent::Ping(ping::Event {
                peer,
                result: Ok(rtt),
                ..
            }) => {
                if let Some(st) = self.peers.get_mut(&peer) {
                    st.rtt = Some(rtt);
                }
            }
            BehaviourEvent::Autonat(autonat::Event::StatusChanged { new, .. }) => {
                self.nat_status = match &new {
                    autonat::NatStatus::Public(a) => format!("public ({a})"),
                    autonat::NatStatus::Private => "private".into(),
                    autonat::NatStatus::Unknown => "unknown".into(),
                };
                let s = self.nat_status.clone();
                self.emit(MeshEvent::NatStatus(s));
            }
            BehaviourEvent::Dcutr(dcutr::Event {
                remote_peer_id,
                result,
            }) => {
                let success = result.is_ok();
                if success {
                    self.counters.hole_punch_ok += 1;
                } else {
                    self.counters.hole_punch_failed += 1;
                }
                self.emit(MeshEvent::HolePunch {
                    peer: remote_peer_id,
                    success,
                });
            }
            BehaviourEvent::RelayClient(relay::client::Event::ReservationReqAccepted {
                relay_peer_id,
                ..
            }) => {
                self.counters.reservations += 1;
                self.emit(MeshEvent::RelayReservation {
                    relay: relay_peer_id,
                });
            }
            BehaviourEvent::Mdns(mdns::Event::Discovered(found)) => {
                for (peer, addr) in found {
                    self.insert_routing(peer, addr.clone());
                    if !self.swarm.is_connected(&peer) && self.peers.len() < self.cfg.max_peers {
                        let _ = self.swarm.dial(addr);
                    }
                }
            }
            _ => {}
        }
    }

    fn on_peer_event(&mut self, ev: request_response::Event<PeerRequest, PeerResponse>) {
        use request_response::{Event, Message};
        match ev {
            Event::Message {
                peer,
                message:
                    Message::Request {
                        request, channel, ..
                    },
                ..
            } => match request {
                PeerRequest::Announce(bytes) => {
                    self.receive(&bytes, None, Some(peer), Origin::Direct { peer, channel });
                }
                PeerRequest::Goodbye(_) => {
                    let _ = self
                        .swarm
                        .behaviour_mut()
                        .peer
                        .send_response(channel, PeerResponse::Bye);
                    self.drop_departed(peer);
                }
                PeerRequest::Neighbours => {
                    let list = self
                        .peers
                        .keys()
                        .filter(|p| **p != peer)
                        .take(protocol::MAX_NEIGHBOURS)
                        .map(|p| p.to_bytes())
                        .collect();
                    let _ = self
                        .swarm
                        .behaviour_mut()
                        .peer
                        .send_response(channel, PeerResponse::Neighbours(list));
                }
            },
            Event::Message {
                peer,
                message:
                    Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                self.goodbyes.remove(&request_id);
                if let PeerResponse::Neighbours(list) = &response {
                    let ids: Vec<PeerId> = list
                        .iter()
                        .take(protocol::MAX_NEIGHBOURS)
                        .filter_map(|b| PeerId::from_bytes(b).ok())
                        .collect();
                    if self.neighbours.len() < self.cfg.max_graph_nodes
                        || self.neighbours.contains_key(&peer)
                    {
                        self.neighbours.insert(peer, (ids, Instant::now()));
                    }
                }
                if let Some(reply) = self.pushes.remove(&request_id) {
                    let _ = reply.send(Ok(response));
                }
            }
            Event::OutboundFailure {
                request_id, error, ..
            } => {
                self.goodbyes.remove(&request_id);
                if let Some(reply) = self.pushes.remove(&request_id) {
                    let _ = reply.send(Err(MeshError::Request(error.to_string())));
                }
            }
            _ => {}
        }
    }

    fn on_kad_event(&mut self, ev: kad::Event) {
        match ev {
            kad::Event::RoutablePeer { peer, address }
            | kad::Event::PendingRoutablePeer { peer, address } => {
                self.add_routing(peer, address);
            }
            kad::Event::RoutingUpdated {
                old_peer: Some(evicted),
                ..
            } => self.routing.remove(&evicted),
            kad::Event::InboundRequest { request } => match request {
                kad::InboundRequest::PutRecord {
                    record: Some(record),
                    ..
                } => self.store_inbound_record(record),
                kad::InboundRequest::AddProvider {
                    record: Some(record),
                } => {
                    // Provider claims are cheap to make, so they are only a hint: lookups
                    // verify the provider's own announcement and stake before returning it.
                    let ok = String::from_utf8_lossy(record.key.as_ref())
                        .starts_with(PROVIDER_KEY_PREFIX)
                        && node_id_of(&record.provider).is_some();
                    if ok {
                        let _ = self
                            .swarm
                            .behaviour_mut()
                            .kad
                            .store_mut()
                            .add_provider(record);
                    }
                }
                _ => {}
            },
            kad::Event::OutboundQueryProgressed {
                id, result, step, ..
            } => match result {
                kad::QueryResult::GetRecord(Ok(kad::GetRecordOk::FoundRecord(pr))) => {
                    let Some(state) = self.lookups.get_mut(&id) else {
                        return;
                    };
                    if state.checking {
                        return;
                    }
                    state.checking = true;
                    let node = state.node;
                    let from = pr.peer;
                    self.receive(
                        &pr.record.value,
                        Some(node),
                        from,
                        Origin::Lookup { query: id },
                    );
                    if step.last {
                        self.finish_lookup(id);
                    }
                }
                kad::QueryResult::GetRecord(_) if step.last => self.finish_lookup(id),
                kad::QueryResult::GetProviders(Ok(kad::GetProvidersOk::FoundProviders {
                    providers,
                    ..
                })) => {
                    if let Some((set, _)) = self.providers.get_mut(&id) {
                        set.extend(providers);
                    }
                    if step.last {
                        self.finish_providers(id);
                    }
                }
                kad::QueryResult::GetProviders(_) if step.last => self.finish_providers(id),
                _ => {}
            },
            _ => {}
        }
    }

    fn finish_lookup(&mut self, id: kad::QueryId) {
        if let Some(state) = self.lookups.get_mut(&id) {
            state.finished = true;
            if !state.checking {
                let state = self.lookups.remove(&id).expect("present");
                for r in state.replies {
                    let _ = r.send(None);
                }
            }
        }
    }

    fn finish_providers(&mut self, id: kad::QueryId) {
        if let Some((set, reply)) = self.providers.remove(&id) {
            let _ = reply.send(set.into_iter().collect());
        }
    }

    /// A peer asks us to store a record: keep it only if it is a valid, fresh
    /// announcement under its own node's key and newer than what we hold.
    fn store_inbound_record(&mut self, record: kad::Record) {
        let verdict = (|| {
            let signed = SignedAnnouncement::decode(&record.value)
                .map_err(|e| DropReason::from_record_error(&e))?;
            let a = &signed.announcement;
            if record_key(&a.node_id) != record.key {
                return Err(DropReason::KeyMismatch);
            }
            let now = now_unix();
            if now >= a.expires_at() {
                return Err(DropReason::Stale);
            }
            if a.issued_at > now + self.cfg.admission.max_clock_skew.as_secs() {
                return Err(DropReason::FromFuture);
            }
            if let Some(held) = self.swarm.behaviour_mut().kad.store_mut().get(&record.key)
                && let Ok(h) = SignedAnnouncement::decode(&held.value)
                && h.announcement.seq >= a.seq
            {
                return Err(DropReason::Replayed);
            }
            Ok(Duration::from_secs(a.expires_at() - now))
        })();
        match verdict {
            Ok(left) => {
                let mut r = record;
                r.expires = Some(Instant::now() + left.min(self.cfg.record_ttl));
                let _ = self.swarm.behaviour_mut().kad.store_mut().put(r);
            }
            Err(DropReason::Replayed) => {} // a re-publication of what we hold
            Err(reason) => self.admission.count_drop(reason),
        }
    }

    // ── Commands ────────────────────────────────────────────────────────────

    fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Publish { local, reply } => {
                let _ = reply.send(self.publish(local));
            }
            Command::Lookup { node, reply } => {
                if let Some(k) = self.admission.get(&node) {
                    let _ = reply.send(Some(NodeRecord::new(&k.signed, k.stake)));
                    return;
                }
                if self
                    .own
                    .as_ref()
                    .is_some_and(|o| o.announcement.node_id == node)
                {
                    let own = self.own.clone().expect("checked");
                    let _ = reply.send(Some(NodeRecord::new(&own, None)));
                    return;
                }
                if let Some((_, st)) = self.lookups.iter_mut().find(|(_, s)| s.node == node) {
                    st.replies.push(reply);
                    return;
                }
                if self.lookups.len() >= MAX_PENDING_QUERIES {
                    let _ = reply.send(None);
                    return;
                }
                let id = self.swarm.behaviour_mut().kad.get_record(record_key(&node));
                self.lookups.insert(
                    id,
                    LookupState {
                        node,
                        replies: vec![reply],
                        checking: false,
                        finished: false,
                    },
                );
            }
            Command::Providers { key, reply } => {
                if self.providers.len() >= MAX_PENDING_QUERIES {
                    let _ = reply.send(vec![]);
                    return;
                }
                let id = self.swarm.behaviour_mut().kad.get_providers(key);
                self.providers.insert(id, (HashSet::new(), reply));
            }
            Command::PushAnnouncement { peer, bytes, reply } => {
                let id = self
                    .swarm
                    .behaviour_mut()
                    .peer
                    .send_request(&peer, PeerRequest::Announce(bytes));
                self.pushes.insert(id, reply);
            }
            Command::Inject { bytes, reply } => {
                self.receive(&bytes, None, None, Origin::Inject { reply });
            }
            Command::Dial { addr, reply } => {
                let r = self
                    .swarm
                    .dial(addr)
                    .map_err(|e| MeshError::Dial(e.to_string()));
                let _ = reply.send(r);
            }
            Command::ListenAddrs(reply) => {
                let _ = reply.send(self.swarm.listeners().cloned().collect());
            }
            Command::Peers(reply) => {
                let _ = reply.send(self.peer_infos());
            }
            Command::Stats(reply) => {
                let _ = reply.send(self.stats());
            }
            Command::Topology(reply) => {
                let _ = reply.send(self.topology());
            }
            Command::Known(reply) => {
                let _ = reply.send(
                    self.admission
                        .known()
                        .values()
                        .map(|k| NodeRecord::new(&k.signed, k.stake))
                        .collect(),
                );
            }
            Command::RoutingTable(reply) => {
                let mut v = vec![];
                for bucket in self.swarm.behaviour_mut().kad.kbuckets() {
                    for e in bucket.iter() {
                        v.push(*e.node.key.preimage());
                    }
                }
                let _ = reply.send(v);
            }
            Command::Shutdown(_) => unreachable!("handled in run"),
        }
    }

    fn node_type_of(&self, peer: &PeerId) -> Option<NodeType> {
        let node = node_id_of(peer)?;
        self.admission
            .get(&node)
            .map(|k| k.signed.announcement.node_type)
    }

    fn peer_infos(&self) -> Vec<PeerInfo> {
        let mut v: Vec<PeerInfo> = self
            .peers
            .iter()
            .map(|(peer, st)| {
                // Prefer a direct connection when there is one.
                let best = st
                    .conns
                    .values()
                    .min_by_key(|(_, relayed)| *relayed)
                    .cloned();
                let (addr, _) = best.clone().unwrap_or((Multiaddr::empty(), false));
                PeerInfo {
                    peer_id: peer.to_string(),
                    node_id: node_id_of(peer),
                    node_type: self.node_type_of(peer),
                    transport: TransportKind::of(&addr),
                    address: addr.to_string(),
                    rtt_ms: st.rtt.map(ms),
                    relayed: !st.conns.is_empty() && st.conns.values().all(|(_, r)| *r),
                    connections: st.conns.len(),
                }
            })
            .collect();
        v.sort_by(|a, b| a.peer_id.cmp(&b.peer_id));
        v
    }

    fn bandwidth(&self) -> (u64, u64) {
        // libp2p-metrics counts bytes per transport stack in a Prometheus family; sum
        // its text exposition by direction.
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            return (0, 0);
        }
        let (mut inbound, mut outbound) = (0u64, 0u64);
        for line in text
            .lines()
            .filter(|l| l.starts_with("libp2p_bandwidth_bytes_total{"))
        {
            let value = line
                .rsplit(' ')
                .next()
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0) as u64;
            if line.contains("direction=\"Inbound\"") {
                inbound += value;
            } else if line.contains("direction=\"Outbound\"") {
                outbound += value;
            }
        }
        (inbound, outbound)
    }

    fn stats(&mut self) -> MeshStats {
        let now = Instant::now();
        let (bytes_in, bytes_out) = self.bandwidth();
        let mut peers_by_type = std::collections::BTreeMap::new();
        for p in self.peers.keys() {
            let t = self.node_type_of(p).map_or("unknown", NodeType::as_str);
            *peers_by_type.entry(t.to_string()).or_insert(0) += 1;
        }
        let (dht_records, dht_provider_records) = {
            let store = self.swarm.behaviour_mut().kad.store_mut();
            (store.records().count(), store.provided().count())
        };
        let dht_routing_entries = self
            .swarm
            .behaviour_mut()
            .kad
            .kbuckets()
            .map(|b| b.num_entries())
            .sum();
        let gate = &self.swarm.behaviour().gate;
        MeshStats {
            peer_id: self.swarm.local_peer_id().to_string(),
            node_id: self.key.node_id(),
            uptime_secs: self.started.elapsed().as_secs(),
            nat_status: self.nat_status.clone(),
            listen_addresses: self.swarm.listeners().map(|a| a.to_string()).collect(),
            external_addresses: self
                .swarm
                .external_addresses()
                .map(|a| a.to_string())
                .collect(),
            connected_peers: self.peers.len(),
            peers_by_type,
            bytes_in,
            bytes_out,
            dht_routing_entries,
            dht_records,
            dht_provider_records,
            known_nodes: self.admission.known().len(),
            gossip: GossipStats {
                received: self.counters.gossip_received,
                published: self.counters.gossip_published,
                rejected: self.counters.gossip_rejected,
                received_per_min: self.gossip_in.per_minute(now),
                published_per_min: self.gossip_out.per_minute(now),
            },
            hole_punch: HolePunchStats {
                successes: self.counters.hole_punch_ok,
                failures: self.counters.hole_punch_failed,
            },
            relay_reservations: self.counters.reservations,
            announcements_accepted: self.admission.accepted(),
            announcements_dropped: self.admission.drops().clone(),
            goodbyes_sent: self.counters.goodbyes_sent,
            goodbyes_received: self.counters.goodbyes_received,
            connections_denied: gate.denied(),
            routing_inserts_denied: self.counters.routing_denied,
            events_dropped: self.counters.events_dropped,
            peers_per_prefix: gate
                .histogram()
                .into_iter()
                .map(|(p, n)| (p.to_string(), n))
                .collect(),
        }
    }

    fn topology(&self) -> Topology {
        let local = self.swarm.local_peer_id().to_string();
        let mut nodes = vec![TopologyNode {
            peer_id: local.clone(),
            node_type: self.own.as_ref().map(|o| o.announcement.node_type),
            local: true,
        }];
        let mut edges = vec![];
        for (peer, st) in &self.peers {
            nodes.push(TopologyNode {
                peer_id: peer.to_string(),
                node_type: self.node_type_of(peer),
                local: false,
            });
            edges.push(TopologyEdge {
                a: local.clone(),
                b: peer.to_string(),
                relayed: Some(!st.conns.is_empty() && st.conns.values().all(|(_, r)| *r)),
            });
        }
        for (peer, (list, _)) in &self.neighbours {
            for n in list {
                edges.push(TopologyEdge {
                    a: peer.to_string(),
                    b: n.to_string(),
                    relayed: None,
                });
                if let Some(t) = self.node_type_of(n) {
                    nodes.push(TopologyNode {
                        peer_id: n.to_string(),
                        node_type: Some(t),
                        local: false,
                    });
                }
            }
        }
        Topology::build(local, nodes, edges)
    }
}

/// The `/p2p/<peer id>` of an address, if it has one.
fn peer_of(a: &Multiaddr) -> Option<PeerId> {
    a.iter().find_map(|p| match p {
        libp2p::multiaddr::Protocol::P2p(id) => Some(id),
        _ => None,
    })
}

fn is_unspecified(a: &Multiaddr) -> bool {
    a.iter().any(|p| match p {
        libp2p::multiaddr::Protocol::Ip4(ip) => ip.is_unspecified(),
        libp2p::multiaddr::Protocol::Ip6(ip) => ip.is_unspecified(),
        _ => false,
    })
}
