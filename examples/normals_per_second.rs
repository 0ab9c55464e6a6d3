//! R0 on the core at every CPU feature level this machine has: standard normals
//! per second from one chunk's generator (one thread), and 64-bit words per
//! second, with a checksum that must agree between levels (the same bits).
//!
//!     taskset -c 0 cargo run --release --example normals_per_second

use std::time::Instant;

use gradest::estimation::{normal_batch, rng::chunk_rng, simd};

fn main() {
    const BATCH: usize = 1024;
    const ROUNDS: usize = 20_000;
    let mut z = vec![0.0; BATCH];
    let mut w = vec![0u64; BATCH];
    for level in simd::Level::ALL.into_iter().filter(|l| l.is_available()) {
        simd::limit(level).expect("available");
        let mut rng = chunk_rng(1, 0);
        let (mut zbits, mut bits) = (0u64, 0u64);
        let t = Instant::now();
        for _ in 0..ROUNDS {
            normal_batch(&mut rng, &mut z);
            zbits ^= z.iter().fold(0, |a, v| a ^ v.to_bits());
        }
        let normals = t.elapsed().as_secs_f64();
        let t = Instant::now();
        for _ in 0..ROUNDS {
            rng.fill_u64(&mut w);
            bits ^= w.iter().fold(0, |a, b| a ^ b);
        }
        let words = t.elapsed().as_secs_f64();
        let n = (BATCH * ROUNDS) as f64;
        println!(
            "{:8}  normals {:.3e}/s ({:.2} ns)  words {:.3e}/s  checksum {zbits:016x} {bits:016x}",
            level.name(),
            n / normals,
            normals / n * 1e9,
            n / words,
        );
    }
}
