//! Partial runs and their merge: the response to a request with `chunks`, and
//! the body of `POST /v1/merge`. A partial carries its job (the request
//! without `chunks`, seed included), the range, and the range's chunk
//! summaries, exact, as base64 text; the merge checks that the partials belong
//! together ([`super::validate`]) and merges them in the core.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::requests::EstimateRequest;
use crate::estimation::runner::{ChunkSummary, Partial};

/// The version of gradest that wrote a partial; a merge takes its own only
/// (the chunk plan and the summaries' meaning may change between versions).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `partial`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PartialKind {
    Partial,
}

/// A range of a job's chunks, with the job's count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartialChunks {
    pub start: u64,
    pub count: u64,
    /// The job's number of chunks.
    pub total: u64,
}

/// The summaries of a range of a job's chunks, from a request with `chunks`:
/// merge the partials of all the chunks with `POST /v1/merge`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartialResponse {
    pub kind: PartialKind,
    /// The gradest version that ran it; a merge takes partials of its own version.
    #[schema(example = "0.3.0")]
    pub version: String,
    /// The job, as sent but without `chunks` (its seed included).
    pub job: EstimateRequest,
    pub chunks: PartialChunks,
    /// Samples drawn in the range.
    pub samples: u64,
    /// Time the range took, in milliseconds.
    pub elapsed_ms: f64,
    /// The chunks' summaries, exact (every number's IEEE-754 bits), as base64;
    /// opaque: pass it on unchanged.
    pub summaries: String,
}

impl PartialResponse {
    pub fn new(job: EstimateRequest, p: &Partial) -> PartialResponse {
        let start = p.summaries.first().map_or(0, |s| s.chunk);
        PartialResponse {
            kind: PartialKind::Partial,
            version: VERSION.to_string(),
            job,
            chunks: PartialChunks {
                start: start as u64,
                count: p.summaries.len() as u64,
                total: p.chunks as u64,
            },
            samples: p
                .summaries
                .iter()
                .map(|s| s.f.n as u64 + s.non_finite)
                .sum(),
            elapsed_ms: p.elapsed * 1e3,
            summaries: encode(&p.summaries),
        }
    }
}

/// Partials of one job to merge into its result.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// Partials of every chunk of one job, each chunk in exactly one, in any order.
    pub partials: Vec<PartialResponse>,
}

/// Each summary's bytes behind its length (u32, little-endian), as base64.
fn encode(summaries: &[ChunkSummary]) -> String {
    let mut bytes = Vec::new();
    for s in summaries {
        let one = s.to_bytes();
        bytes.extend_from_slice(&(one.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&one);
    }
    STANDARD.encode(bytes)
}

/// The inverse of `encode`; `None` for text this service did not write.
pub fn decode(text: &str) -> Option<Vec<ChunkSummary>> {
    let bytes = STANDARD.decode(text).ok()?;
    let mut out = Vec::new();
    let mut rest = bytes.as_slice();
    while !rest.is_empty() {
        let (len, tail) = rest.split_at_checked(4)?;
        let len = u32::from_le_bytes(len.try_into().ok()?) as usize;
        let (one, tail) = tail.split_at_checked(len)?;
        out.push(ChunkSummary::from_bytes(one).ok()?);
        rest = tail;
    }
    Some(out)
}
