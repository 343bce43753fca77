//! The `SendJob` message sequence: a header, then the module's chunks, then the
//! dataset's, each at most [`CHUNK_BYTES`] with contiguous offsets from 0 per part and the
//! SHA-256 of its data. Built lazily, so a large dataset is never copied whole.

use cyxwiz_channel::{
    limits::CHUNK_BYTES,
    sha256,
    v1::{Chunk, DirectJob, Part, SendJobRequest, UploadHeader, send_job_request},
};

/// Test hooks for the upload.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UploadOptions {
    /// Flip the data of this chunk (0-based over module then dataset) after its checksum
    /// was computed, as a corrupting network would.
    pub corrupt_chunk: Option<usize>,
    /// Send only this many chunks, then drop the call without finishing it, as an engine
    /// that disappears mid-upload would.
    pub stop_after_chunks: Option<usize>,
    /// A direct upload's signature timestamp (Unix ms) instead of now: a stale signature.
    pub signed_at_ms: Option<i64>,
    /// A direct upload's signature nonce instead of a random one: with `signed_at_ms`,
    /// the very same signature again (a replay).
    pub nonce: Option<[u8; 16]>,
}

/// Chunks of `module` then `dataset`: `(part, offset, data)`.
fn chunks<'a>(module: &'a [u8], dataset: &'a [u8]) -> impl Iterator<Item = (Part, u64, &'a [u8])> {
    let part = |p: Part, bytes: &'a [u8]| {
        bytes
            .chunks(CHUNK_BYTES)
            .enumerate()
            .map(move |(i, c)| (p, (i * CHUNK_BYTES) as u64, c))
    };
    part(Part::Module, module).chain(part(Part::Dataset, dataset))
}

/// Number of chunks the upload of `module` and `dataset` takes.
pub fn chunk_count(module: &[u8], dataset: &[u8]) -> usize {
    module.len().div_ceil(CHUNK_BYTES) + dataset.len().div_ceil(CHUNK_BYTES)
}

/// The chunk messages (without the header) of an upload, with the corruption hook
/// applied. `stop_after_chunks` is applied by the sender, not here.
pub fn chunk_messages<'a>(
    module: &'a [u8],
    dataset: &'a [u8],
    options: UploadOptions,
) -> impl Iterator<Item = Chunk> + 'a {
    chunks(module, dataset)
        .enumerate()
        .map(move |(i, (part, offset, data))| {
            let checksum = sha256(data);
            let mut data = data.to_vec();
            if options.corrupt_chunk == Some(i)
                && let Some(b) = data.first_mut()
            {
                *b ^= 0xff;
            }
            Chunk {
                part: part as i32,
                offset,
                data,
                sha256: checksum.to_vec(),
            }
        })
}

/// Every message of a `SendJob` call: the header, then the chunks.
pub fn upload_messages<'a>(
    job_id: &[u8; 16],
    seed: i64,
    module: &'a [u8],
    dataset: &'a [u8],
    options: UploadOptions,
) -> impl Iterator<Item = SendJobRequest> + 'a {
    let header = UploadHeader {
        job_id: job_id.to_vec(),
        seed,
        direct: None,
    };
    messages_after(header, module, dataset, options)
}

/// The header of a direct upload (no coordinator, decision 150): it names the node the
/// escrow is assigned to and the sizes and hashes the coordinator would otherwise vouch
/// for. The engine signs exactly this message.
pub fn direct_header(
    job_id: &[u8; 16],
    seed: i64,
    node: &[u8; 32],
    module: &[u8],
    dataset: &[u8],
) -> UploadHeader {
    UploadHeader {
        job_id: job_id.to_vec(),
        seed,
        direct: Some(DirectJob {
            node: node.to_vec(),
            module_size: module.len() as u64,
            module_hash: sha256(module).to_vec(),
            dataset_size: dataset.len() as u64,
            dataset_hash: sha256(dataset).to_vec(),
        }),
    }
}

/// `header`, then the chunks.
pub fn messages_after<'a>(
    header: UploadHeader,
    module: &'a [u8],
    dataset: &'a [u8],
    options: UploadOptions,
) -> impl Iterator<Item = SendJobRequest> + 'a {
    let header = SendJobRequest {
        part: Some(send_job_request::Part::Header(header)),
    };
    std::iter::once(header).chain(chunk_messages(module, dataset, options).map(|c| {
        SendJobRequest {
            part: Some(send_job_request::Part::Chunk(c)),
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(n: usize, seed: u8) -> Vec<u8> {
        (0..n)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    fn split(msgs: Vec<SendJobRequest>) -> (UploadHeader, Vec<Chunk>) {
        let mut it = msgs.into_iter();
        let header = match it.next().and_then(|m| m.part) {
            Some(send_job_request::Part::Header(h)) => h,
            other => panic!("first message is not a header: {other:?}"),
        };
        let chunks = it
            .map(|m| match m.part {
                Some(send_job_request::Part::Chunk(c)) => c,
                other => panic!("not a chunk: {other:?}"),
            })
            .collect();
        (header, chunks)
    }

    #[test]
    fn header_then_contiguous_checksummed_chunks_module_first() {
        let module = bytes(CHUNK_BYTES + 10, 1);
        let dataset = bytes(2 * CHUNK_BYTES, 2);
        let (h, chunks) = split(
            upload_messages(&[9; 16], 42, &module, &dataset, UploadOptions::default()).collect(),
        );
        assert_eq!(h.job_id, vec![9; 16]);
        assert_eq!(h.seed, 42);
        assert_eq!(chunks.len(), 4);
        assert_eq!(chunk_count(&module, &dataset), 4);
        for (part, whole) in [(Part::Module, &module), (Part::Dataset, &dataset)] {
            let mine: Vec<&Chunk> = chunks.iter().filter(|c| c.part == part as i32).collect();
            let mut next = 0u64;
            let mut joined = Vec::new();
            for c in &mine {
                assert_eq!(c.offset, next);
                assert!(c.data.len() <= CHUNK_BYTES && !c.data.is_empty());
                assert_eq!(c.sha256, sha256(&c.data).to_vec());
                next += c.data.len() as u64;
                joined.extend_from_slice(&c.data);
            }
            assert_eq!(&joined, whole);
        }
        assert_eq!(chunks[1].data.len(), 10);
        // Module chunks come before dataset chunks.
        assert!(chunks[..2].iter().all(|c| c.part == Part::Module as i32));
        assert!(chunks[2..].iter().all(|c| c.part == Part::Dataset as i32));
    }

    #[test]
    fn the_corruption_hook_changes_data_but_not_the_checksum() {
        let module = bytes(100, 3);
        let dataset = bytes(CHUNK_BYTES + 1, 4);
        let clean: Vec<Chunk> =
            chunk_messages(&module, &dataset, UploadOptions::default()).collect();
        let bad: Vec<Chunk> = chunk_messages(
            &module,
            &dataset,
            UploadOptions {
                corrupt_chunk: Some(1),
                ..UploadOptions::default()
            },
        )
        .collect();
        assert_eq!(clean.len(), 3);
        assert_eq!(bad.len(), 3);
        assert_eq!(clean[0], bad[0]);
        assert_eq!(clean[2], bad[2]);
        assert_ne!(clean[1].data, bad[1].data);
        assert_eq!(clean[1].data.len(), bad[1].data.len());
        assert_eq!(clean[1].sha256, bad[1].sha256);
        assert_ne!(sha256(&bad[1].data).to_vec(), bad[1].sha256);
    }

    #[test]
    fn a_direct_header_names_the_node_and_vouches_for_the_bytes() {
        let (module, dataset) = (bytes(10, 5), bytes(20, 6));
        let h = direct_header(&[1; 16], 9, &[7; 32], &module, &dataset);
        let d = h.direct.as_ref().unwrap();
        assert_eq!(d.node, vec![7; 32]);
        assert_eq!((d.module_size, d.dataset_size), (10, 20));
        assert_eq!(d.module_hash, sha256(&module).to_vec());
        assert_eq!(d.dataset_hash, sha256(&dataset).to_vec());
        let (first, chunks) =
            split(messages_after(h.clone(), &module, &dataset, UploadOptions::default()).collect());
        assert_eq!(first, h);
        assert_eq!(chunks.len(), 2);
    }

    #[test]
    fn empty_parts_send_no_chunks() {
        let (_, chunks) = split(
            upload_messages(&[0; 16], 0, &[], &[1, 2, 3], UploadOptions::default()).collect(),
        );
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].part, Part::Dataset as i32);
        assert_eq!(chunk_count(&[], &[]), 0);
    }
}
