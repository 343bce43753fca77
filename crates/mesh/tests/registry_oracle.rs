//! The NodeRegistry-backed stake oracle: accounts registered by the real program on the
//! native SVM (the program-test fixture), decoded by the chain SDK, and used by a mesh
//! node to admit or drop announcements pushed over the wire.

mod common;

use std::{collections::HashMap, sync::Arc, time::Duration};

use async_trait::async_trait;
use common::*;
use cyxwiz_chain::{Pubkey, pda};
use cyxwiz_common::units::ONE_CYXWIZ;
use cyxwiz_mesh::{
    NodeId, NodeKey, NodeType, PeerResponse, StakeOracle, StakeStatus, Standing,
    chain_oracle::{AccountSource, RegistryOracle},
    oracle::OracleError,
};
use cyxwiz_program_tests::Env;
use node_registry::NodeStatus;
use solana_signer::Signer;

/// Accounts copied out of the test chain (the chain itself is not `Sync`).
struct Snapshot {
    accounts: HashMap<Pubkey, (Pubkey, Vec<u8>)>,
    now: i64,
}

impl Snapshot {
    fn of(env: &Env, addresses: &[Pubkey]) -> Self {
        let accounts = addresses
            .iter()
            .filter_map(|a| env.chain.account(a).map(|acc| (*a, (acc.owner, acc.data))))
            .collect();
        Snapshot {
            accounts,
            now: env.chain.now(),
        }
    }
}

#[async_trait]
impl AccountSource for Snapshot {
    async fn account(&self, address: &Pubkey) -> Result<Option<(Pubkey, Vec<u8>)>, OracleError> {
        Ok(self.accounts.get(address).cloned())
    }

    async fn unix_time(&self) -> Result<i64, OracleError> {
        Ok(self.now)
    }
}

fn mesh_key(wallet: &solana_keypair::Keypair) -> NodeKey {
    let mut bytes = wallet.to_bytes();
    NodeKey::from_solana_keypair_bytes(&mut bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_accounts_decide_admission() {
    // Real registrations through the NodeRegistry program. The leaving node first: its
    // stake is locked for 30 days before it may ask to unstake.
    let mut env = Env::new();
    let leaving = env.operator(1_000 * ONE_CYXWIZ);
    env.register_node(&leaving, 200 * ONE_CYXWIZ).unwrap();
    env.chain.warp(31 * 86_400);
    let ix = env.request_unstake_ix(&leaving.key());
    env.send(ix, &[&leaving.wallet]).unwrap();
    let tier1 = env.operator(1_000 * ONE_CYXWIZ);
    env.register_node(&tier1, 200 * ONE_CYXWIZ).unwrap();
    let tier0 = env.operator(1_000 * ONE_CYXWIZ);
    env.register_node(&tier0, 50 * ONE_CYXWIZ).unwrap();
    let suspended = env.operator(1_000 * ONE_CYXWIZ);
    env.register_node(&suspended, 1_000 * ONE_CYXWIZ).unwrap();
    let until = env.chain.now() + 3_600;
    // What the repeated-failure rule leaves behind (only JobEscrow can trigger it).
    env.set_node(&suspended.key(), |n| {
        n.status = NodeStatus::Suspended;
        n.suspended_until = until;
    });
    let banned = env.operator(1_000 * ONE_CYXWIZ);
    env.register_node(&banned, 1_000 * ONE_CYXWIZ).unwrap();
    env.set_node(&banned.key(), |n| n.status = NodeStatus::Banned);
    let stranger = env.wallet();

    let ops = [&tier1, &tier0, &suspended, &banned, &leaving];
    let mut addrs: Vec<Pubkey> = ops.iter().map(|o| pda::node(&o.key())).collect();
    addrs.push(pda::registry_config());
    let oracle = Arc::new(RegistryOracle::new(Snapshot::of(&env, &addrs)));

    // The oracle alone: statuses straight from the accounts.
    let id = |k: Pubkey| NodeId(k.to_bytes());
    assert_eq!(
        oracle.stake_status(&id(tier1.key())).await.unwrap(),
        StakeStatus::Registered {
            standing: Standing::Active,
            stake: 200 * ONE_CYXWIZ,
            tier: Some(1),
        }
    );
    assert!(matches!(
        oracle.stake_status(&id(suspended.key())).await.unwrap(),
        StakeStatus::Registered {
            standing: Standing::Suspended,
            tier: Some(2),
            ..
        }
    ));
    assert!(matches!(
        oracle.stake_status(&id(leaving.key())).await.unwrap(),
        StakeStatus::Registered {
            standing: Standing::Unstaking,
            ..
        }
    ));
    assert_eq!(
        oracle.stake_status(&id(stranger.pubkey())).await.unwrap(),
        StakeStatus::Unregistered
    );

    // The mesh: a receiver with the registry oracle, a sender pushing records signed
    // with the operators' own wallet keys (the mesh identity, decision 110).
    let a = spawn(
        NodeKey::generate(),
        test_config("127.0.0.1"),
        oracle.clone(),
    )
    .await;
    let mut bcfg = test_config("127.0.0.1");
    bcfg.bootstrap = vec![a.addr.clone()];
    let b = spawn(NodeKey::generate(), bcfg, oracle.clone()).await;
    let a_peer = a.mesh.peer_id();
    eventually("b connected", Duration::from_secs(10), || async {
        (!b.mesh.peers().await.unwrap().is_empty()).then_some(())
    })
    .await;
    let now = unix_now();
    let push = |bytes: Vec<u8>| {
        let m = b.mesh.clone();
        async move {
            match m.push_announcement(a_peer, bytes).await.unwrap() {
                PeerResponse::Ack { accepted: true, .. } => "accepted".to_string(),
                PeerResponse::Ack { reason, .. } => reason.unwrap_or_default(),
                other => panic!("{other:?}"),
            }
        }
    };
    let rec = |w: &solana_keypair::Keypair, tier| {
        record(&mesh_key(w), NodeType::Compute, Some(tier), 1, now)
    };
    assert_eq!(push(rec(&tier1.wallet, 1)).await, "accepted");
    assert_eq!(push(rec(&tier0.wallet, 0)).await, "accepted");
    assert_eq!(
        push(record(
            &mesh_key(&tier0.wallet),
            NodeType::Compute,
            Some(1),
            2,
            now
        ))
        .await,
        "wrong_tier"
    );
    assert_eq!(push(rec(&suspended.wallet, 0)).await, "suspended");
    assert_eq!(push(rec(&banned.wallet, 0)).await, "banned");
    assert_eq!(push(rec(&leaving.wallet, 0)).await, "unstaking");
    assert_eq!(push(rec(&stranger, 0)).await, "unregistered");
    let d = a.mesh.stats().await.unwrap().announcements_dropped;
    assert_eq!(
        (
            d.wrong_tier,
            d.suspended,
            d.banned,
            d.unstaking,
            d.unregistered
        ),
        (1, 1, 1, 1, 1)
    );
    let looked_up = a.mesh.lookup(id(tier1.key())).await.unwrap().unwrap();
    assert_eq!(
        looked_up.announcement.node_id,
        mesh_key(&tier1.wallet).node_id()
    );
}

#[tokio::test]
async fn a_look_alike_account_from_another_program_is_not_stake() {
    let mut env = Env::new();
    let op = env.operator(1_000 * ONE_CYXWIZ);
    env.register_node(&op, 200 * ONE_CYXWIZ).unwrap();
    let node = pda::node(&op.key());
    let mut snap = Snapshot::of(&env, &[node, pda::registry_config()]);
    // Same bytes, but owned by JobEscrow instead of NodeRegistry.
    snap.accounts.get_mut(&node).unwrap().0 = job_escrow::ID;
    let oracle = RegistryOracle::new(snap);
    assert!(matches!(
        oracle.stake_status(&NodeId(op.key().to_bytes())).await,
        Err(OracleError::Invalid(_))
    ));
}
