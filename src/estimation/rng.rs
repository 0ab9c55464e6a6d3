//! The random streams: the generator every sample is drawn with, and each
//! chunk of a job's own stream, a function of (seed, chunk index) alone.
//!
//! # Lanes
//! A chunk's generator is [`LANES`] independent xoshiro256++ generators
//! (Blackman & Vigna; period 2²⁵⁶ − 1 each) advanced together, so one step
//! is a handful of 64-bit adds, shifts and xors across 8 lanes, which the
//! compiler vectorises (4 lanes per AVX2 instruction, 8 per AVX-512 one).
//! The chunk's stream is the lanes' outputs interleaved: output 8k + l is
//! lane l's k-th output. A bulk fill ([`SampleRng::fill_u64`]) and single
//! draws ([`SampleRng::next_word`], used through `rand`'s traits) read the same
//! stream, so how a sampler asks for its numbers never changes them.

use rand::TryRng;

use super::sampling::{Noise, Sampling};
use super::simd;

/// Generators advanced together in one chunk.
pub const LANES: usize = 8;

/// The generator every sample is drawn with: [`LANES`] xoshiro256++ lanes,
/// their outputs interleaved (see the module docs). Seeded by [`chunk_rng`].
#[derive(Debug, Clone)]
pub struct SampleRng {
    /// State word i of lane l is `s[i][l]`.
    s: [[u64; LANES]; 4],
    /// The last step's outputs; `buf[used..]` are still to be handed out.
    buf: [u64; LANES],
    used: usize,
    /// How base noise is drawn in this chunk ([`crate::estimation::sampling`]);
    /// iid unless the runner starts the chunk otherwise.
    pub(crate) noise: Noise,
}

/// One xoshiro256++ step of every lane: out = rotl(s₀ + s₃, 23) + s₀, then
/// t = s₁ ≪ 17, s₂ ^= s₀, s₃ ^= s₁, s₁ ^= s₂, s₀ ^= s₃, s₂ ^= t, s₃ = rotl(s₃, 45).
#[inline(always)]
fn step(s: &mut [[u64; LANES]; 4]) -> [u64; LANES] {
    let mut out = [0u64; LANES];
    for l in 0..LANES {
        let (s0, s1, s2, s3) = (s[0][l], s[1][l], s[2][l], s[3][l]);
        out[l] = s0.wrapping_add(s3).rotate_left(23).wrapping_add(s0);
        let t = s1 << 17;
        let s2 = s2 ^ s0;
        let s3 = s3 ^ s1;
        let s1 = s1 ^ s2;
        let s0 = s0 ^ s3;
        s[0][l] = s0;
        s[1][l] = s1;
        s[2][l] = s2 ^ t;
        s[3][l] = s3.rotate_left(45);
    }
    out
}

impl SampleRng {
    /// A generator whose lane l starts from `state[l]` (four words each; an
    /// all-zero state, which xoshiro cannot leave, is replaced by word 0 = 1).
    pub fn from_lane_states(state: [[u64; 4]; LANES]) -> SampleRng {
        let mut s = [[0u64; LANES]; 4];
        for (l, mut words) in state.into_iter().enumerate() {
            if words == [0; 4] {
                words[0] = 1;
            }
            for i in 0..4 {
                s[i][l] = words[i];
            }
        }
        SampleRng {
            s,
            buf: [0; LANES],
            used: LANES,
            noise: Noise::default(),
        }
    }

    /// How this generator draws base noise.
    pub fn sampling(&self) -> Sampling {
        self.noise.method()
    }

    /// Sets how base noise is drawn from here on (the runner does this at a
    /// chunk's start; rqmc draws its randomisation of the d-dimensional
    /// sequence from the stream now). `reuse` lends the buffers of an earlier
    /// chunk; [`SampleRng::take_noise`] gives them back.
    pub fn start_sampling(&mut self, method: Sampling, d: usize, reuse: Noise) {
        let mut noise = reuse;
        noise.start(method, d, self);
        self.noise = noise;
    }

    /// The sampling state (and its buffers), leaving iid in its place.
    pub fn take_noise(&mut self) -> Noise {
        std::mem::take(&mut self.noise)
    }

    /// The next output of the stream.
    #[inline]
    pub fn next_word(&mut self) -> u64 {
        if self.used == LANES {
            self.buf = step(&mut self.s);
            self.used = 0;
        }
        let v = self.buf[self.used];
        self.used += 1;
        v
    }

    /// Fills `out` with the next `out.len()` outputs of the stream, whole steps
    /// of all lanes at the CPU's best vector width.
    pub fn fill_u64(&mut self, out: &mut [u64]) {
        let pending = (LANES - self.used).min(out.len());
        let (head, rest) = out.split_at_mut(pending);
        for v in head {
            *v = self.next_word();
        }
        let whole = rest.len() / LANES * LANES;
        let (blocks, tail) = rest.split_at_mut(whole);
        simd::dispatch_explicit(Fill {
            s: &mut self.s,
            out: blocks,
        });
        for v in tail {
            *v = self.next_word();
        }
    }
}

/// Whole steps of all lanes into `out` (a multiple of [`LANES`] long), the
/// same integer arithmetic as [`step`] on every level, written with explicit
/// vectors because the compiler leaves this lane arithmetic scalar.
struct Fill<'a> {
    s: &'a mut [[u64; LANES]; 4],
    out: &'a mut [u64],
}

/// xoshiro256++ on vectors of lanes: `$v` a vector type, `$shl`/`$shr` its
/// constant shifts; `$s` the four state vectors of one group of lanes.
macro_rules! xoshiro_vec {
    ($simd:expr, $s:expr, $shl:ident, $shr:ident) => {{
        let simd = $simd;
        let [s0, s1, s2, s3] = $s;
        let sum = simd.add_u64s(s0, s3);
        let rot = simd.or_u64s(simd.$shl::<23>(sum), simd.$shr::<41>(sum));
        let out = simd.add_u64s(rot, s0);
        let t = simd.$shl::<17>(s1);
        let s2 = simd.xor_u64s(s2, s0);
        let s3 = simd.xor_u64s(s3, s1);
        let s1 = simd.xor_u64s(s1, s2);
        let s0 = simd.xor_u64s(s0, s3);
        let s2 = simd.xor_u64s(s2, t);
        let s3 = simd.or_u64s(simd.$shl::<45>(s3), simd.$shr::<19>(s3));
        $s = [s0, s1, s2, s3];
        out
    }};
}

impl simd::Explicit for Fill<'_> {
    type Output = ();

    #[inline(always)]
    fn portable(self) {
        let mut st = *self.s;
        for block in self.out.chunks_exact_mut(LANES) {
            block.copy_from_slice(&step(&mut st));
        }
        *self.s = st;
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn avx2(self, simd: pulp::x86::V3) {
        use pulp::{Simd as _, u64x4};
        let split = |w: [u64; LANES]| -> [u64x4; 2] { pulp::cast(w) };
        let [a0, b0] = split(self.s[0]);
        let [a1, b1] = split(self.s[1]);
        let [a2, b2] = split(self.s[2]);
        let [a3, b3] = split(self.s[3]);
        let (mut lo, mut hi) = ([a0, a1, a2, a3], [b0, b1, b2, b3]);
        for block in self.out.chunks_exact_mut(LANES) {
            let x = xoshiro_vec!(simd, lo, shl_const_u64x4, shr_const_u64x4);
            let y = xoshiro_vec!(simd, hi, shl_const_u64x4, shr_const_u64x4);
            block.copy_from_slice(&pulp::cast::<[u64x4; 2], [u64; LANES]>([x, y]));
        }
        for i in 0..4 {
            self.s[i] = pulp::cast([lo[i], hi[i]]);
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn avx512(self, simd: pulp::x86::V4) {
        use pulp::{Simd as _, u64x8};
        let mut v: [u64x8; 4] = std::array::from_fn(|i| pulp::cast(self.s[i]));
        for block in self.out.chunks_exact_mut(LANES) {
            let x = xoshiro_vec!(simd, v, shl_const_u64x8, shr_const_u64x8);
            block.copy_from_slice(&pulp::cast::<u64x8, [u64; LANES]>(x));
        }
        for (s, vi) in self.s.iter_mut().zip(v) {
            *s = pulp::cast(vi);
        }
    }
}

impl TryRng for SampleRng {
    type Error = core::convert::Infallible;

    #[inline]
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok((self.next_word() >> 32) as u32)
    }

    #[inline]
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(self.next_word())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for c in dst.chunks_mut(8) {
            let bytes = self.next_word().to_le_bytes();
            c.copy_from_slice(&bytes[..c.len()]);
        }
        Ok(())
    }
}

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
/// the seed and of the stream (digits of π and e, any odd-looking constants do).
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

/// The generator of chunk `chunk` of a job with `seed`. Lane l is stream
/// j = 8·chunk + l, and its four state words are wᵢ = m(m(seed ⊕ Sᵢ) ⊕ m(j ⊕ Cᵢ)),
/// m = `splitmix`.
///
/// Every word depends on both the seed and the stream through a final m, so the
/// states of neighbouring lanes, chunks or seeds are unrelated. (An earlier
/// scheme shared one word between all chunks of a seed and took another from
/// the chunk alone; xoshiro's first output rotl(s₀ + s₃, 23) + s₀ then differed
/// between two chunks by nearly a constant, and the first draws of neighbouring
/// chunks were correlated by up to 0.7, which made runs of a few samples per
/// chunk about 1.2× as spread as independent draws.) For a fixed seed each word
/// is a bijection of the stream (chunks below 2⁶¹), so two lanes of one job, or
/// one lane of two seeds, never share a state; any two (seed, stream) pairs
/// share one with probability about 2⁻²⁵⁶.
pub fn chunk_rng(seed: u64, chunk: u64) -> SampleRng {
    let keys: [u64; 4] = std::array::from_fn(|i| splitmix(seed ^ SEED_KEYS[i]));
    SampleRng::from_lane_states(std::array::from_fn(|l| {
        let stream = chunk.wrapping_mul(LANES as u64).wrapping_add(l as u64);
        std::array::from_fn(|i| splitmix(keys[i] ^ splitmix(stream ^ CHUNK_KEYS[i])))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rand_core::Rng;

    /// Each lane is the reference xoshiro256++ (rand_xoshiro) from the same state,
    /// and the stream interleaves the lanes.
    #[test]
    fn lanes_are_reference_xoshiro256plusplus_interleaved() {
        let states: [[u64; 4]; LANES] =
            std::array::from_fn(|l| std::array::from_fn(|i| splitmix((10 * l + i) as u64)));
        let mut rng = SampleRng::from_lane_states(states);
        let mut refs: Vec<_> = states
            .iter()
            .map(|w| {
                let mut bytes = [0u8; 32];
                for (dst, v) in bytes.chunks_exact_mut(8).zip(w) {
                    dst.copy_from_slice(&v.to_le_bytes());
                }
                rand_xoshiro::Xoshiro256PlusPlus::from_seed(bytes)
            })
            .collect();
        for k in 0..100 {
            for (l, r) in refs.iter_mut().enumerate() {
                assert_eq!(rng.next_word(), r.next_u64(), "step {k}, lane {l}");
            }
        }
    }

    /// Bulk fills, single draws and any mix of the two read one stream.
    #[test]
    fn fills_and_single_draws_read_the_same_stream() {
        let mut a = chunk_rng(3, 5);
        let want: Vec<u64> = (0..200).map(|_| a.next_word()).collect();
        for split in [0, 1, 7, 8, 9, 13, 64, 77] {
            let mut b = chunk_rng(3, 5);
            let mut got: Vec<u64> = (0..split).map(|_| b.next_word()).collect();
            let mut rest = vec![0; 150 - split];
            b.fill_u64(&mut rest);
            got.extend(rest);
            got.extend((0..50).map(|_| b.next_u64()));
            assert_eq!(got, want, "split {split}");
        }
    }
}
