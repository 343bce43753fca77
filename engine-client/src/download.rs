//! Reassembling and checking downloaded weights.
//!
//! Each [`WeightsChunk`] must carry the SHA-256 of its data, continue exactly where the
//! previous chunk ended, and agree with the first chunk on the total size and the
//! node-claimed digest; the total is bounded. The whole blob is then digested with
//! [`cyxwiz_poc::weights_digest`] and compared with the escrow's on-chain
//! `final_weights_hash` (a mismatch is [`Error::WeightsTampered`]) and with the digest
//! the node claimed ([`Error::NodeDigestMismatch`]).

use cyxwiz_channel::{sha256, v1::WeightsChunk};

use crate::{Error, Result};

/// The largest weights blob ever accepted: 1 GiB.
pub const MAX_WEIGHTS_BYTES: u64 = 1 << 30;

/// Weights received in full, checked chunk by chunk, not yet against the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    pub weights: Vec<u8>,
    /// `weights_digest` of `weights`, computed here.
    pub digest: [u8; 32],
    /// The digest the node claimed in the stream (if it sent one).
    pub claimed: Option<[u8; 32]>,
}

impl Downloaded {
    /// Checks the weights against the hash committed on chain, then against the node's
    /// claim. Returns the digest.
    pub fn verify(&self, on_chain: &[u8; 32]) -> Result<[u8; 32]> {
        if self.digest != *on_chain {
            return Err(Error::WeightsTampered {
                expected: *on_chain,
                got: self.digest,
            });
        }
        if let Some(claimed) = self.claimed
            && claimed != self.digest
        {
            return Err(Error::NodeDigestMismatch {
                claimed,
                got: self.digest,
            });
        }
        Ok(self.digest)
    }
}

/// Accumulates a download, refusing the first bad chunk.
#[derive(Debug)]
pub struct WeightsAssembler {
    buf: Vec<u8>,
    total: Option<u64>,
    claimed: Option<[u8; 32]>,
    limit: u64,
}

impl WeightsAssembler {
    /// An assembler accepting at most `limit` bytes (capped at [`MAX_WEIGHTS_BYTES`]).
    pub fn new(limit: u64) -> WeightsAssembler {
        WeightsAssembler {
            buf: Vec::new(),
            total: None,
            claimed: None,
            limit: limit.min(MAX_WEIGHTS_BYTES),
        }
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.buf.len() as u64
    }

    /// The announced total, once the first chunk arrived.
    pub fn total(&self) -> Option<u64> {
        self.total
    }

    /// Checks and appends one chunk.
    pub fn push(&mut self, chunk: WeightsChunk) -> Result<()> {
        let received = self.buf.len() as u64;
        if chunk.offset != received {
            return Err(Error::ChunkGap {
                expected: received,
                got: chunk.offset,
            });
        }
        if sha256(&chunk.data).as_slice() != chunk.sha256.as_slice() {
            return Err(Error::ChunkChecksum {
                offset: chunk.offset,
            });
        }
        match self.total {
            None => {
                if chunk.total_size > self.limit {
                    return Err(Error::WeightsTooLarge {
                        size: chunk.total_size,
                        limit: self.limit,
                    });
                }
                self.total = Some(chunk.total_size);
                // Reserve what was announced (bounded above), not more.
                self.buf.reserve(chunk.total_size as usize);
            }
            Some(t) if t != chunk.total_size => {
                return Err(Error::Invalid(format!(
                    "weights chunk at offset {} announces {} bytes in all, an earlier one {t}",
                    chunk.offset, chunk.total_size
                )));
            }
            Some(_) => {}
        }
        let total = self.total.unwrap_or(0);
        let after = received + chunk.data.len() as u64;
        if after > total {
            return Err(Error::WeightsSize {
                announced: total,
                received: after,
            });
        }
        if !chunk.weights_digest.is_empty() {
            let claimed: [u8; 32] = chunk.weights_digest.as_slice().try_into().map_err(|_| {
                Error::Invalid(format!(
                    "weights digest of {} bytes (expected 32)",
                    chunk.weights_digest.len()
                ))
            })?;
            match self.claimed {
                None => self.claimed = Some(claimed),
                Some(c) if c != claimed => {
                    return Err(Error::Invalid(
                        "the node changed its claimed weights digest mid-download".into(),
                    ));
                }
                Some(_) => {}
            }
        }
        self.buf.extend_from_slice(&chunk.data);
        Ok(())
    }

    /// The whole blob, once every announced byte arrived.
    pub fn finish(self) -> Result<Downloaded> {
        let received = self.buf.len() as u64;
        let announced = self.total.unwrap_or(0);
        if self.total.is_none() || received != announced {
            return Err(Error::WeightsSize {
                announced,
                received,
            });
        }
        let digest = cyxwiz_poc::weights_digest(&self.buf);
        Ok(Downloaded {
            weights: self.buf,
            digest,
            claimed: self.claimed,
        })
    }
}

/// Checks a complete download against the on-chain `final_weights_hash`: every chunk,
/// then the whole. Returns the weights.
pub fn verify_download(
    chunks: impl IntoIterator<Item = WeightsChunk>,
    on_chain: &[u8; 32],
    limit: u64,
) -> Result<Vec<u8>> {
    let mut asm = WeightsAssembler::new(limit);
    for c in chunks {
        asm.push(c)?;
    }
    let done = asm.finish()?;
    done.verify(on_chain)?;
    Ok(done.weights)
}

/// Splits `weights` into the chunks a node would send (for tests and tools).
pub fn chunk_weights(weights: &[u8], chunk_bytes: usize) -> Vec<WeightsChunk> {
    let digest = cyxwiz_poc::weights_digest(weights).to_vec();
    weights
        .chunks(chunk_bytes.max(1))
        .enumerate()
        .map(|(i, data)| WeightsChunk {
            offset: (i * chunk_bytes.max(1)) as u64,
            data: data.to_vec(),
            sha256: sha256(data).to_vec(),
            total_size: weights.len() as u64,
            weights_digest: digest.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weights() -> Vec<u8> {
        (0..10_000u32)
            .flat_map(|i| (i as f32 * 0.5).to_le_bytes())
            .collect()
    }

    #[test]
    fn a_good_download_verifies() {
        let w = weights();
        let onchain = cyxwiz_poc::weights_digest(&w);
        let got = verify_download(chunk_weights(&w, 4096), &onchain, MAX_WEIGHTS_BYTES).unwrap();
        assert_eq!(got, w);
    }

    #[test]
    fn a_bad_chunk_checksum_is_refused() {
        let w = weights();
        let onchain = cyxwiz_poc::weights_digest(&w);
        let mut chunks = chunk_weights(&w, 4096);
        chunks[2].data[5] ^= 1;
        assert!(matches!(
            verify_download(chunks, &onchain, MAX_WEIGHTS_BYTES),
            Err(Error::ChunkChecksum { offset: 8192 })
        ));
    }

    #[test]
    fn gaps_and_short_downloads_are_refused() {
        let w = weights();
        let onchain = cyxwiz_poc::weights_digest(&w);
        let mut chunks = chunk_weights(&w, 4096);
        chunks.remove(1);
        assert!(matches!(
            verify_download(chunks, &onchain, MAX_WEIGHTS_BYTES),
            Err(Error::ChunkGap {
                expected: 4096,
                got: 8192
            })
        ));
        let mut chunks = chunk_weights(&w, 4096);
        chunks.pop();
        assert!(matches!(
            verify_download(chunks, &onchain, MAX_WEIGHTS_BYTES),
            Err(Error::WeightsSize { .. })
        ));
        assert!(matches!(
            verify_download(Vec::new(), &onchain, MAX_WEIGHTS_BYTES),
            Err(Error::WeightsSize { .. })
        ));
    }

    #[test]
    fn oversize_is_refused_before_buffering() {
        let w = weights();
        let onchain = cyxwiz_poc::weights_digest(&w);
        assert!(matches!(
            verify_download(chunk_weights(&w, 4096), &onchain, 1000),
            Err(Error::WeightsTooLarge {
                size: 40_000,
                limit: 1000
            })
        ));
        // A node announcing more than 1 GiB is refused whatever the caller's limit.
        let mut chunks = chunk_weights(&w, 4096);
        chunks[0].total_size = MAX_WEIGHTS_BYTES + 1;
        assert!(matches!(
            verify_download(chunks, &onchain, u64::MAX),
            Err(Error::WeightsTooLarge { .. })
        ));
        // Sending more than announced.
        let mut chunks = chunk_weights(&w, 4096);
        for c in &mut chunks {
            c.total_size = 5000;
        }
        assert!(matches!(
            verify_download(chunks, &onchain, MAX_WEIGHTS_BYTES),
            Err(Error::WeightsSize {
                announced: 5000,
                received: 8192
            })
        ));
    }

    #[test]
    fn tampered_weights_are_a_named_error() {
        let w = weights();
        let onchain = cyxwiz_poc::weights_digest(&w);
        let mut evil = w.clone();
        evil[100] ^= 0x40;
        // Consistent chunks and a consistent claim, but not what was committed on chain.
        match verify_download(chunk_weights(&evil, 4096), &onchain, MAX_WEIGHTS_BYTES) {
            Err(Error::WeightsTampered { expected, got }) => {
                assert_eq!(expected, onchain);
                assert_eq!(got, cyxwiz_poc::weights_digest(&evil));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_false_node_claim_is_caught() {
        let w = weights();
        let onchain = cyxwiz_poc::weights_digest(&w);
        let mut chunks = chunk_weights(&w, 4096);
        for c in &mut chunks {
            c.weights_digest = vec![1; 32];
        }
        assert!(matches!(
            verify_download(chunks, &onchain, MAX_WEIGHTS_BYTES),
            Err(Error::NodeDigestMismatch { .. })
        ));
    }
}
