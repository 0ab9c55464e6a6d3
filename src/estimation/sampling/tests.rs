use super::*;
use crate::estimation::rng::chunk_rng;

/// AS241 against quantiles computed to 40 digits (mpmath), to 2e−15
/// relative, and the symmetry Φ⁻¹(1 − p) = −Φ⁻¹(p) where 1 − p is exact.
#[test]
fn ndtri_matches_known_quantiles() {
    let known = [
        (0.5, 0.0),
        (0.975, 1.959_963_984_540_054_2),
        (0.3, -0.524_400_512_708_040_8),
        (0.02, -2.053_748_910_631_823),
        (0.0005, -3.290_526_731_491_895),
        (1e-10, -6.361_340_902_404_056),
        (1e-20, -9.262_340_089_798_408),
    ];
    for (p, z) in known {
        let got = ndtri(p);
        assert!(
            (got - z).abs() <= 2e-15 * z.abs().max(1.0),
            "Φ⁻¹({p}) = {got}, want {z}"
        );
    }
    for k in 1..1000 {
        let p = k as f64 / 2048.0;
        assert_eq!(ndtri(1.0 - p), -ndtri(p), "p = {p}");
    }
    assert!(ndtri(f64::EPSILON / 2.0) > -8.3 && ndtri(f64::EPSILON / 2.0) < -8.2);
    assert_eq!(ndtri(0.0), f64::NEG_INFINITY);
    assert_eq!(ndtri(1.0), f64::INFINITY);
}

/// The direction numbers give Joe & Kuo's published first points of the
/// 3-dimensional sequence, which their program lists in Gray-code order
/// (point n is our natural-order point n ⊕ (n ≫ 1)).
#[test]
fn unscrambled_sobol_points_are_joe_kuos() {
    let raw = |i: usize, j: u64| -> f64 {
        let dirs = Sobol::raw_directions(i);
        let mut w = 0u64;
        for (k, v) in dirs.iter().enumerate() {
            if (j >> k) & 1 == 1 {
                w ^= v;
            }
        }
        w as f64 / 2f64.powi(64)
    };
    let want = [
        [0.5, 0.5, 0.5],
        [0.75, 0.25, 0.25],
        [0.25, 0.75, 0.75],
        [0.375, 0.375, 0.625],
        [0.875, 0.875, 0.125],
    ];
    for (n, row) in want.iter().enumerate() {
        let n = n as u64 + 1;
        let gray = n ^ (n >> 1);
        let got: Vec<f64> = (0..3).map(|i| raw(i, gray)).collect();
        assert_eq!(got, row.to_vec(), "point {n}");
    }
}

/// Each 2ᵐ prefix of a scrambled sequence is still a (0, m, 1)-net in every
/// coordinate: exactly one point in each of the 2ᵐ cells of width 2⁻ᵐ.
#[test]
fn scrambled_prefixes_stratify_each_coordinate() {
    let mut rng = chunk_rng(5, 1);
    let d = 7;
    let mut s = Sobol::default();
    s.randomise(d, &mut rng);
    let n = 256;
    let mut pts = vec![0.0; n * d];
    s.fill(&mut pts, d);
    for i in 0..d {
        let mut cells = vec![0u32; n];
        for r in 0..n {
            let u = pts[r * d + i];
            assert!(u > 0.0 && u < 1.0);
            cells[(u * n as f64) as usize] += 1;
        }
        assert!(cells.iter().all(|&c| c == 1), "dimension {i}: {cells:?}");
    }
}

/// Antithetic normals: rows h.. are −(rows ..h); an odd batch's last row is fresh.
#[test]
fn antithetic_rows_mirror_the_first_half() {
    let d = 3;
    for b in [2usize, 5, 8, 9] {
        let mut rng = chunk_rng(2, 0);
        rng.start_sampling(Sampling::Antithetic, d, Noise::default());
        let mut z = vec![0.0; b * d];
        base_normals(&mut rng, &mut z, d);
        let h = b / 2 * d;
        for k in 0..h {
            assert_eq!(z[h + k], -z[k]);
        }
        let mut u = vec![0.0; b * d];
        base_uniforms(&mut rng, &mut u, d);
        for k in 0..h {
            assert_eq!(u[h + k], 1.0 - u[k]);
            assert_eq!(1.0 - u[h + k], u[k], "1 − u is exact");
        }
        if b % 2 == 1 {
            assert!(z[2 * h..].iter().all(|v| !z[..2 * h].contains(v)));
        }
    }
}

/// iid base normals are exactly the iid normals of the stream.
#[test]
fn iid_base_normals_are_the_plain_normals() {
    let mut a = chunk_rng(9, 3);
    let mut b = chunk_rng(9, 3);
    let (mut x, mut y) = (vec![0.0; 301], vec![0.0; 301]);
    base_normals(&mut a, &mut x, 1);
    variates::normals(&mut b, &mut y);
    assert_eq!(x, y);
}
