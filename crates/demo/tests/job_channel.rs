//! The job channel against bad input, end to end on a local network: credentials that
//! are garbage, for another job or expired; a corrupted chunk; an engine that vanishes
//! mid-upload; a node that serves weights other than the ones it committed. Every one is
//! refused with a clear error, leaves nothing behind, and the job still completes after.

mod common;

use std::time::Duration;

use cyxwiz_chain::state::EscrowState;
use cyxwiz_demo::{DIGITS, MLP_WASM, NetOptions, Network};
use cyxwiz_engine_client::{Error, JobSpec, UploadOptions, node::is_final};
use std::sync::atomic::Ordering;
use tonic::Code;

fn node_code(e: &Error) -> Option<Code> {
    match e {
        Error::Node { code, .. } => Some(*code),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_node_refuses_bad_credentials_and_bad_data_and_the_engine_catches_bad_weights() {
    let net = Network::start(NetOptions {
        nodes: 1,
        jwt_ttl_secs: 3,
        ..NetOptions::default()
    })
    .await
    .unwrap();
    let node = net.agents[0].as_ref().unwrap().node().clone();
    let engine = common::engine(&net, "engine", 500 * cyxwiz_common::units::ONE_CYXWIZ).await;
    let mut spec = JobSpec::new(
        MLP_WASM.to_vec(),
        DIGITS.to_vec(),
        12,
        100 * cyxwiz_common::units::ONE_CYXWIZ,
    );
    spec.seed = 7;
    let upload = |session: &cyxwiz_engine_client::NodeSession, token: &str, id, options| {
        let (session, token, spec) = (session.clone(), token.to_string(), spec.clone());
        async move {
            session
                .upload_with(
                    &token,
                    &id,
                    spec.seed,
                    &spec.module,
                    &spec.dataset,
                    options,
                    |_, _| {},
                )
                .await
        }
    };

    let (quote, escrow_tx, cred) = common::prepare(&engine, &spec).await;
    let job = quote.job_id;
    let session = engine.connect(&cred).await.unwrap();

    // Garbage instead of the coordinator's JWT.
    let e = upload(&session, "not-a-jwt", job, UploadOptions::default())
        .await
        .unwrap_err();
    assert_eq!(node_code(&e), Some(Code::Unauthenticated), "{e}");

    // A valid credential, but for another job.
    let (other, _, other_cred) = common::prepare(&engine, &spec).await;
    assert_ne!(other.job_id, job);
    let e = upload(&session, &other_cred.token, job, UploadOptions::default())
        .await
        .unwrap_err();
    assert_eq!(node_code(&e), Some(Code::PermissionDenied), "{e}");

    // An expired credential (this network's tokens live 3 s).
    let cred = engine.confirm(&job, &escrow_tx).await.unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let e = upload(&session, &cred.token, job, UploadOptions::default())
        .await
        .unwrap_err();
    assert_eq!(node_code(&e), Some(Code::Unauthenticated), "{e}");
    assert!(node.job(&job).is_none());

    // A chunk corrupted in transit: refused by its checksum, nothing kept.
    let cred = engine.confirm(&job, &escrow_tx).await.unwrap();
    let corrupt = UploadOptions {
        corrupt_chunk: Some(1),
        ..UploadOptions::default()
    };
    let e = upload(&session, &cred.token, job, corrupt)
        .await
        .unwrap_err();
    assert_eq!(node_code(&e), Some(Code::DataLoss), "{e}");
    assert!(node.job(&job).is_none());

    // The engine vanishes after one chunk: the node drops the upload and frees the slot.
    let cred = engine.confirm(&job, &escrow_tx).await.unwrap();
    let vanish = UploadOptions {
        stop_after_chunks: Some(1),
        ..UploadOptions::default()
    };
    let e = upload(&session, &cred.token, job, vanish)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::UploadAbandoned { chunks: 1 }), "{e}");
    let n = &node;
    let freed = common::eventually(Duration::from_secs(10), move || async move {
        n.begin_upload(job).is_ok()
    });
    assert!(freed.await, "the abandoned upload still holds the job");
    assert!(node.job(&job).is_none());
    let escrow = engine.escrow(&job).await.unwrap().unwrap();
    assert_eq!(
        escrow.state,
        EscrowState::Assigned,
        "nothing was accepted on chain"
    );

    // Now an honest upload goes through and the job trains to completion.
    let cred = engine.confirm(&job, &escrow_tx).await.unwrap();
    let accepted = upload(&session, &cred.token, job, UploadOptions::default())
        .await
        .unwrap();
    assert!(!accepted.accept_signature.is_empty());
    let completion = session
        .training_complete(&job, Duration::from_secs(120))
        .await
        .unwrap();
    assert!(is_final(
        cyxwiz_channel::v1::Phase::try_from(completion.progress.unwrap().phase).unwrap()
    ));

    // A node serving other weights than it committed is caught; nothing is saved.
    node.faults.tamper_weights.store(true, Ordering::Relaxed);
    let e = engine.collect(&session, &job, None).await.unwrap_err();
    assert!(matches!(e, Error::WeightsTampered { .. }), "{e}");
    assert!(!engine.journal().weights_path(&job).exists());
    node.faults.tamper_weights.store(false, Ordering::Relaxed);
    let (downloaded, digest, path) = engine.collect(&session, &job, None).await.unwrap();
    assert_eq!(
        digest,
        engine
            .escrow(&job)
            .await
            .unwrap()
            .unwrap()
            .final_weights_hash
    );
    assert_eq!(std::fs::read(path).unwrap(), downloaded.weights);

    net.stop().await;
}
