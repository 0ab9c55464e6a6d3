//! The random streams: the generator every sample is drawn with, and each
//! chunk of a job's own stream, a function of (seed, chunk index) alone.

use rand::SeedableRng;

/// The generator every sample is drawn with: xoshiro256++ (Blackman & Vigna),
/// fast (about 1 ns per 64-bit output) with period 2²⁵⁶ − 1; each chunk of a job
/// gets its own state from (seed, chunk index) ([`chunk_rng`]).
pub type SampleRng = rand_xoshiro::Xoshiro256PlusPlus;

/// Stafford's "Mix13" finaliser with SplitMix64's increment (Steele, Lea & Flood
/// 2014): m(x) = mix(x + γ), a bijection on u64 in which every input bit flips
/// every output bit with probability about ½.
fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Per-word constants that make the four state words different functions of
/// the seed and of the chunk (digits of π and e, any odd-looking constants do).
const SEED_KEYS: [u64; 4] = [
    0x243F_6A88_85A3_08D3,
    0x1319_8A2E_0370_7344,
    0xA409_3822_299F_31D0,
    0x082E_FA98_EC4E_6C89,
];
const CHUNK_KEYS: [u64; 4] = [
    0xB7E1_5162_8AED_2A6A,
    0xBF71_5880_9CF4_F3C7,
    0x62E7_160F_38B4_DA56,
    0xA784_D904_5190_CFEF,
];

/// The generator of chunk `chunk` of a job with `seed`: xoshiro256++ whose four
/// state words are wᵢ = m(m(seed ⊕ Sᵢ) ⊕ m(chunk ⊕ Cᵢ)), m = `splitmix`.
///
/// Every word depends on both the seed and the chunk through a final m, so the
/// states of neighbouring chunks (or seeds) are unrelated. (An earlier scheme
/// shared one word between all chunks of a seed and took another from the chunk
/// alone; xoshiro's first output rotl(s₀ + s₃, 23) + s₀ then differed between
/// two chunks by nearly a constant, and the first draws of neighbouring chunks
/// were correlated by up to 0.7, which made runs of a few samples per chunk
/// about 1.2× as spread as independent draws.) For a fixed seed each word is a
/// bijection of the chunk (and vice versa), so two chunks of one job, or one
/// chunk of two seeds, never share a stream; any two (seed, chunk) pairs share
/// one with probability about 2⁻²⁵⁶. It costs twelve mixes per chunk, where a
/// 2¹²⁸ `jump` costs 256 generator steps.
pub fn chunk_rng(seed: u64, chunk: u64) -> SampleRng {
    let mut bytes = [0u8; 32];
    for ((dst, s), c) in bytes.chunks_exact_mut(8).zip(SEED_KEYS).zip(CHUNK_KEYS) {
        let w = splitmix(splitmix(seed ^ s) ^ splitmix(chunk ^ c));
        dst.copy_from_slice(&w.to_le_bytes());
    }
    SampleRng::from_seed(bytes)
}
