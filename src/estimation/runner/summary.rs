//! A chunk's summary as a value of its own: what a checkpoint saves, what a
//! partial run (a range of a job's chunks) returns, and what the merge of
//! partials reads. Chunks are deterministic (chunk c draws from its own
//! stream), so a job's result is a function of its chunk summaries alone: a
//! run resumed from saved summaries, or merged from partials computed on other
//! machines, gives the same bits as the run in one go.
//!
//! The encoding is exact (every float as its IEEE-754 bits, little-endian), so
//! nothing is lost on the way through a file, a database or JSON text:
//!
//! ```text
//! "GCS1" · chunk u64 · D u32 · P u32 · f (n, mean, m2) · non_finite u64 · underflow u64 ·
//! overflow u8 · P × (n, mean_u, mean_v, m2_u, m2_v, c_uv) · D × (n, mean, m2)
//! ```

use thiserror::Error;

use super::chunk::ChunkOut;
use crate::estimation::stats::{CoMoments, Moments};

const MAGIC: &[u8; 4] = b"GCS1";
/// Bytes before the per-component moments.
const HEAD: usize = 4 + 8 + 4 + 4 + 3 * 8 + 8 + 8 + 1;

/// One chunk's summary: its totals, the moments of every gradient term and of
/// every coordinate of x.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkSummary {
    /// The chunk's index in its job's plan.
    pub chunk: usize,
    pub f: Moments,
    pub non_finite: u64,
    pub underflow: u64,
    pub overflow: bool,
    /// Per gradient component (P of them).
    pub terms: Vec<CoMoments>,
    /// Per coordinate of x (D of them).
    pub x: Vec<Moments>,
}

/// Bytes that are not a chunk summary.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("not a chunk summary: {0}")]
pub struct Malformed(pub &'static str);

impl ChunkSummary {
    pub(super) fn of(chunk: usize, out: &ChunkOut<'_>) -> ChunkSummary {
        ChunkSummary {
            chunk,
            f: out.f,
            non_finite: out.non_finite,
            underflow: out.underflow,
            overflow: out.overflow,
            terms: out.terms.to_vec(),
            x: out.x.to_vec(),
        }
    }

    pub(super) fn view(&self) -> ChunkOut<'_> {
        ChunkOut {
            terms: &self.terms,
            f: self.f,
            x: &self.x,
            non_finite: self.non_finite,
            underflow: self.underflow,
            overflow: self.overflow,
        }
    }

    /// The exact encoding (see the module's documentation).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEAD + 48 * self.terms.len() + 24 * self.x.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(self.chunk as u64).to_le_bytes());
        out.extend_from_slice(&(self.x.len() as u32).to_le_bytes());
        out.extend_from_slice(&(self.terms.len() as u32).to_le_bytes());
        put_moments(&mut out, &self.f);
        out.extend_from_slice(&self.non_finite.to_le_bytes());
        out.extend_from_slice(&self.underflow.to_le_bytes());
        out.push(u8::from(self.overflow));
        for t in &self.terms {
            for v in [t.n, t.mean_u, t.mean_v, t.m2_u, t.m2_v, t.c_uv] {
                out.extend_from_slice(&v.to_bits().to_le_bytes());
            }
        }
        for m in &self.x {
            put_moments(&mut out, m);
        }
        out
    }

    /// Decodes [`ChunkSummary::to_bytes`]'s encoding.
    pub fn from_bytes(bytes: &[u8]) -> Result<ChunkSummary, Malformed> {
        let mut r = Reader { bytes, at: 0 };
        if r.take(4)? != MAGIC {
            return Err(Malformed("it does not start with the summary marker"));
        }
        let chunk = usize::try_from(r.u64()?).map_err(|_| Malformed("chunk index too large"))?;
        let d = r.u32()? as usize;
        let p = r.u32()? as usize;
        if bytes.len() != HEAD + 48 * p + 24 * d {
            return Err(Malformed("its length does not match its dimensions"));
        }
        let f = r.moments()?;
        let non_finite = r.u64()?;
        let underflow = r.u64()?;
        let overflow = match r.take(1)?[0] {
            0 => false,
            1 => true,
            _ => return Err(Malformed("the overflow flag is neither 0 nor 1")),
        };
        let mut terms = Vec::with_capacity(p);
        for _ in 0..p {
            terms.push(CoMoments {
                n: r.f64()?,
                mean_u: r.f64()?,
                mean_v: r.f64()?,
                m2_u: r.f64()?,
                m2_v: r.f64()?,
                c_uv: r.f64()?,
            });
        }
        let x = (0..d).map(|_| r.moments()).collect::<Result<_, _>>()?;
        Ok(ChunkSummary {
            chunk,
            f,
            non_finite,
            underflow,
            overflow,
            terms,
            x,
        })
    }
}

fn put_moments(out: &mut Vec<u8>, m: &Moments) {
    for v in [m.n, m.mean, m.m2] {
        out.extend_from_slice(&v.to_bits().to_le_bytes());
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.bytes.len());
        let end = end.ok_or(Malformed("it ends too early"))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u64(&mut self) -> Result<u64, Malformed> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    fn u32(&mut self) -> Result<u32, Malformed> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes(b.try_into().expect("4 bytes")))
    }

    fn f64(&mut self) -> Result<f64, Malformed> {
        self.u64().map(f64::from_bits)
    }

    fn moments(&mut self) -> Result<Moments, Malformed> {
        Ok(Moments {
            n: self.f64()?,
            mean: self.f64()?,
            m2: self.f64()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> ChunkSummary {
        ChunkSummary {
            chunk: 7,
            f: Moments {
                n: 3.0,
                mean: 0.1,
                m2: f64::NAN,
            },
            non_finite: 2,
            underflow: 1,
            overflow: true,
            terms: vec![CoMoments {
                n: 3.0,
                mean_u: -0.0,
                mean_v: 1e-300,
                m2_u: f64::INFINITY,
                m2_v: 5.0,
                c_uv: -2.5,
            }],
            x: vec![Moments::default(); 2],
        }
    }

    #[test]
    fn the_encoding_is_exact() {
        let s = example();
        let back = ChunkSummary::from_bytes(&s.to_bytes()).unwrap();
        assert_eq!(
            back.to_bytes(),
            s.to_bytes(),
            "bits survive, NaN and -0 included"
        );
        assert_eq!(back.chunk, 7);
        assert_eq!(back.terms.len(), 1);
        assert_eq!(back.x.len(), 2);
    }

    #[test]
    fn malformed_bytes_are_refused() {
        let bytes = example().to_bytes();
        assert!(ChunkSummary::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        assert!(ChunkSummary::from_bytes(b"GCS2").is_err());
        assert!(ChunkSummary::from_bytes(&[]).is_err());
        let mut flag = bytes.clone();
        flag[HEAD - 1] = 2;
        assert!(ChunkSummary::from_bytes(&flag).is_err());
    }
}
