//! A run's report as both store adapters keep it: its JSON, deflate-compressed, cut into
//! chunks of at most [`CHUNK_BYTES`], so no stored item can pass DynamoDB's 400 KB item limit
//! whatever the tenant's size (issue 11, point 6; layout in docs/storage.md, "Run reports").
//!
//! Both adapters encode with this module, so the embedded store refuses exactly the reports
//! DynamoDB would ([`StoreError::TooLarge`]).

use std::io::{Read, Write};

use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use flate2::Compression;

use super::StoreError;
use crate::domain::run::RunReport;

/// DynamoDB's limit on one item (names and values): 400 KB. The embedded store refuses a run
/// whose JSON passes it, as DynamoDB refuses the item.
pub const ITEM_LIMIT_BYTES: usize = 400 * 1024;

/// Bytes of compressed report per chunk: under DynamoDB's 400 KB (409,600 bytes) item limit
/// with room for the keys and attribute names.
pub const CHUNK_BYTES: usize = 300 * 1024;

/// The most chunks a report may take: they are written in the one transaction that finishes
/// the run, and a transaction carries at most 4 MB (and 100 items). Ten chunks (3 MB
/// compressed, some 30 MB of JSON) are far past any report of capped findings
/// (`assess::checks::DETAIL_LIST_MAX`); a larger one is refused, and the run fails once with
/// `REPORT_TOO_LARGE` instead of being retried.
pub const MAX_CHUNKS: usize = 10;

/// How the chunks are encoded (the head item's `enc`): deflate of the report's JSON.
pub const ENCODING: &str = "deflate-json";

/// The report's chunks, in order (at least one). `TooLarge` past [`MAX_CHUNKS`].
pub fn encode(report: &RunReport) -> Result<Vec<Vec<u8>>, StoreError> {
    let json = serde_json::to_vec(report).map_err(|e| StoreError::Backend(format!("cannot encode a report: {e}")))?;
    let mut z = DeflateEncoder::new(Vec::with_capacity(json.len() / 4), Compression::default());
    z.write_all(&json).and_then(|()| z.flush()).map_err(|e| StoreError::Backend(format!("deflate: {e}")))?;
    let compressed = z.finish().map_err(|e| StoreError::Backend(format!("deflate: {e}")))?;
    let chunks: Vec<Vec<u8>> = compressed.chunks(CHUNK_BYTES).map(<[u8]>::to_vec).collect();
    if chunks.len() > MAX_CHUNKS {
        return Err(StoreError::TooLarge(format!(
            "the run's report is {} bytes of JSON ({} compressed), more than the {} bytes a run may store",
            json.len(),
            compressed.len(),
            MAX_CHUNKS * CHUNK_BYTES
        )));
    }
    Ok(if chunks.is_empty() { vec![Vec::new()] } else { chunks })
}

/// The report from its chunks, in order.
pub fn decode(chunks: &[Vec<u8>]) -> Result<RunReport, StoreError> {
    let compressed: Vec<u8> = chunks.concat();
    let mut json = Vec::with_capacity(compressed.len() * 4);
    DeflateDecoder::new(compressed.as_slice())
        .read_to_end(&mut json)
        .map_err(|e| StoreError::Backend(format!("cannot inflate a report: {e}")))?;
    serde_json::from_slice(&json).map_err(|e| StoreError::Backend(format!("cannot decode a report: {e}")))
}
