//! CPU feature levels and the run-time dispatch of the batch kernels.
//!
//! The hot loops (the generator lanes, the normal and exponential samplers, the
//! objective's kernels, the batch sums) are plain loops over fixed-width lanes
//! of `f64`/`u64`, written so that the compiler vectorises them. [`dispatch`]
//! runs such a loop compiled for the best level this CPU offers: AVX-512
//! (8 lanes of f64 per instruction), AVX2 (4 lanes), or the portable build
//! (baseline x86-64 with SSE2, or any other target, aarch64's NEON included).
//!
//! # Same bits on every level
//! Every level performs the same IEEE-754 operations on every lane in the same
//! order; only how many lanes one instruction carries differs. That holds
//! because (i) Rust never contracts a·b + c into a fused multiply-add unless
//! asked (`mul_add`, which the kernels never call), (ii) the compiler never
//! reassociates floating-point sums, and every reduction in the kernels keeps a
//! fixed number of partial sums folded in a fixed order, independent of the
//! vector width, and (iii) add, multiply, divide and square root are correctly
//! rounded in every instruction set. `tests/simd_levels.rs` forces each level
//! and compares the bits of whole jobs.
//!
//! # Why pulp
//! Run-time dispatch needs `#[target_feature]` functions, whose calls are
//! `unsafe`. The crate forbids `unsafe`; pulp (the SIMD layer of the faer
//! linear-algebra crates, well kept) wraps detection and the feature-enabled
//! call in a safe API: a kernel implements [`pulp::WithSimd`], and pulp calls
//! it from inside a function compiled with the level's features, so everything
//! inlined into it (the kernels are `#[inline(always)]`) is vectorised for that
//! level. No `std::arch` intrinsic is used: the kernels stay portable code.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

/// A CPU feature level the kernels are compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// The target's baseline (SSE2 on x86-64, NEON on aarch64).
    Portable,
    /// x86-64-v3: AVX2 (with FMA, BMI, which the kernels do not rely on).
    Avx2,
    /// x86-64-v4: AVX-512 F/BW/CD/DQ/VL.
    Avx512,
}

impl Level {
    /// Every level, lowest first.
    pub const ALL: [Level; 3] = [Level::Portable, Level::Avx2, Level::Avx512];

    /// The level's name in configuration and logs.
    pub fn name(self) -> &'static str {
        match self {
            Level::Portable => "portable",
            Level::Avx2 => "avx2",
            Level::Avx512 => "avx512",
        }
    }

    /// The level named `name`, if any.
    pub fn from_name(name: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.name() == name)
    }

    /// Whether this CPU can run code of this level.
    pub fn is_available(self) -> bool {
        self <= detected()
    }
}

/// The best level this CPU offers (detected once).
pub fn detected() -> Level {
    static DETECTED: OnceLock<Level> = OnceLock::new();
    *DETECTED.get_or_init(detect)
}

fn detect() -> Level {
    #[cfg(target_arch = "x86_64")]
    {
        use pulp::x86::{V3, V4};
        if V4::try_new().is_some() {
            return Level::Avx512;
        }
        if V3::try_new().is_some() {
            return Level::Avx2;
        }
    }
    Level::Portable
}

/// The highest level [`dispatch`] may use; `u8::MAX` until [`limit`] is called.
static CAP: AtomicU8 = AtomicU8::new(u8::MAX);

/// Caps the level every later [`dispatch`] uses (process-wide; results do not
/// depend on it, only speed). Fails with the detected level when this CPU
/// lacks `level`.
pub fn limit(level: Level) -> Result<(), Level> {
    if !level.is_available() {
        return Err(detected());
    }
    CAP.store(level as u8, Ordering::Relaxed);
    Ok(())
}

/// The level [`dispatch`] uses now: the detected one, or the cap if lower.
pub fn active() -> Level {
    let (cap, best) = (CAP.load(Ordering::Relaxed), detected());
    Level::ALL
        .into_iter()
        .rev()
        .find(|l| *l as u8 <= cap && *l <= best)
        .unwrap_or(Level::Portable)
}

/// Runs `kernel` compiled for the [`active`] level. Write the closure as
/// `#[inline(always)] || …` and make what it calls `#[inline(always)]`: only
/// code inlined into the feature-enabled copy gets the level's instructions;
/// anything else runs at the portable level (still the same bits, only slower).
#[inline(always)]
pub fn dispatch<R>(kernel: impl FnOnce() -> R) -> R {
    dispatch_vectors(Op(kernel))
}

/// A closure as a pulp kernel that does not use the vector token: pulp calls it
/// from inside a function compiled with the level's features.
struct Op<F>(F);

impl<R, F: FnOnce() -> R> pulp::WithSimd for Op<F> {
    type Output = R;
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) -> R {
        (self.0)()
    }
}

/// Runs a kernel written over pulp's portable vector type `S::f64s` (8 lanes
/// on AVX-512, 4 on AVX2, 1 on the portable level) at the [`active`] level.
/// Such a kernel must give the same bits for every `S`: it keeps a fixed number
/// of logical lanes (say 16, carried as 16/`S::F64_LANES` vectors) and folds
/// them in a fixed order.
#[inline(always)]
pub fn dispatch_vectors<K: pulp::WithSimd>(kernel: K) -> K::Output {
    #[cfg(target_arch = "x86_64")]
    {
        use pulp::x86::{V3, V4};
        match active() {
            Level::Avx512 => {
                if let Some(v4) = V4::try_new() {
                    return pulp::Simd::vectorize(v4, kernel);
                }
            }
            Level::Avx2 => {
                if let Some(v3) = V3::try_new() {
                    return pulp::Simd::vectorize(v3, kernel);
                }
            }
            Level::Portable => {}
        }
    }
    kernel.with_simd(pulp::Scalar)
}

/// A kernel written for each level by hand, for the few loops the compiler
/// does not vectorise on its own (the generator's 64-bit lane arithmetic).
/// Each method must give the same result; [`dispatch_explicit`] picks one.
pub trait Explicit {
    /// What the kernel returns.
    type Output;
    /// Plain code, for any target.
    fn portable(self) -> Self::Output;
    /// With AVX2 vectors (called inside an AVX2-enabled function).
    #[cfg(target_arch = "x86_64")]
    fn avx2(self, simd: pulp::x86::V3) -> Self::Output;
    /// With AVX-512 vectors (called inside an AVX-512-enabled function).
    #[cfg(target_arch = "x86_64")]
    fn avx512(self, simd: pulp::x86::V4) -> Self::Output;
}

/// Runs the [`active`] level's method of `kernel` (mark the methods
/// `#[inline(always)]` so they are compiled with the level's features).
#[inline(always)]
pub fn dispatch_explicit<K: Explicit>(kernel: K) -> K::Output {
    #[cfg(target_arch = "x86_64")]
    {
        use pulp::x86::{V3, V4};
        match active() {
            Level::Avx512 => {
                if let Some(v4) = V4::try_new() {
                    return pulp::Simd::vectorize(
                        v4,
                        Op(
                            #[inline(always)]
                            move || kernel.avx512(v4),
                        ),
                    );
                }
            }
            Level::Avx2 => {
                if let Some(v3) = V3::try_new() {
                    return pulp::Simd::vectorize(
                        v3,
                        Op(
                            #[inline(always)]
                            move || kernel.avx2(v3),
                        ),
                    );
                }
            }
            Level::Portable => {}
        }
    }
    kernel.portable()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_levels_are_ordered() {
        for l in Level::ALL {
            assert_eq!(Level::from_name(l.name()), Some(l));
        }
        assert_eq!(Level::from_name("sse9"), None);
        assert!(Level::Portable.is_available());
        assert!(active() <= detected());
    }

    #[test]
    fn dispatch_runs_the_kernel() {
        let xs = [1.0, 2.0, 3.0];
        assert_eq!(
            dispatch(
                #[inline(always)]
                || xs.iter().sum::<f64>()
            ),
            6.0
        );
    }
}
