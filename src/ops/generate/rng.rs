//! Seeded randomness, and the few math functions the generator needs, written so that one seed
//! gives the same bytes on every machine and with every Rust version.
//!
//! `f64::ln`, `exp` and `powf` call the platform's libm, whose last bit differs between glibc,
//! musl, macOS and Windows; one different bit can flip a rounding decision and change the
//! output. The generator therefore uses only IEEE basic operations (`+ - * /`, `round`, integer
//! conversions), which are exact and identical everywhere, and computes `ln` and `exp` itself.

/// One step of SplitMix64: advances `state` and returns a well-mixed 64-bit value.
pub(super) fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hash several values into one seed (order matters).
pub(super) fn mix(parts: &[u64]) -> u64 {
    let mut h = 0x243F_6A88_85A3_08D3_u64;
    for &part in parts {
        let mut state = h ^ part;
        h = splitmix64(&mut state);
    }
    h
}

/// xoshiro256**: small, fast, and good enough for synthetic data.
#[derive(Clone, Debug)]
pub(super) struct Rng {
    s: [u64; 4],
}

impl Rng {
    pub(super) fn new(seed: u64) -> Self {
        let mut sm = seed;
        // SplitMix64's output function is a bijection, so four consecutive outputs are never all zero.
        let s = [splitmix64(&mut sm), splitmix64(&mut sm), splitmix64(&mut sm), splitmix64(&mut sm)];
        Self { s }
    }

    #[inline]
    pub(super) fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1).
    #[inline]
    pub(super) fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Uniform in 0..n (0 when n is 0). Lemire's multiply-shift; the bias is far below what matters here.
    #[inline]
    pub(super) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in lo..=hi.
    #[inline]
    pub(super) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo { lo } else { lo + self.below(hi - lo + 1) }
    }

    #[inline]
    pub(super) fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    #[inline]
    pub(super) fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f64()
    }

    /// Exponentially distributed with the given mean.
    pub(super) fn exp(&mut self, mean: f64) -> f64 {
        // 1 - u is in (0, 1], so the logarithm is finite and <= 0.
        -mean * det_ln(1.0 - self.f64())
    }

    /// 128 random bits shaped as a version-4 UUID (version nibble 4, RFC 4122 variant).
    pub(super) fn uuid(&mut self) -> u128 {
        let raw = (u128::from(self.next_u64()) << 64) | u128::from(self.next_u64());
        let raw = (raw & !(0xF0_u128 << 72)) | (0x40_u128 << 72);
        (raw & !(0xC0_u128 << 56)) | (0x80_u128 << 56)
    }
}

/// Index drawn with probability proportional to `weights[i]` (the last index if all are zero).
pub(super) fn pick_weighted(rng: &mut Rng, weights: &[u32]) -> usize {
    let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
    let mut x = rng.below(total);
    for (i, &w) in weights.iter().enumerate() {
        let w = u64::from(w);
        if x < w {
            return i;
        }
        x -= w;
    }
    weights.len().saturating_sub(1)
}

/// A bijection of 0..n (i -> a*i + b mod n with gcd(a, n) = 1), so that "popular" ranks land on
/// scattered ids instead of c00001, c00002, ...
#[derive(Clone, Debug)]
pub(super) struct Perm {
    n: u64,
    a: u64,
    b: u64,
}

impl Perm {
    pub(super) fn new(n: u64, key: u64) -> Self {
        let n = n.max(1);
        let mut a = (key % n).max(1);
        // Terminates: a walks 1..=n and gcd(1, n) = 1.
        while gcd(a, n) != 1 {
            a = a % n + 1;
        }
        Self { n, a, b: (key >> 32) % n }
    }

    pub(super) fn apply(&self, i: u64) -> u64 {
        ((u128::from(i) * u128::from(self.a) + u128::from(self.b)) % u128::from(self.n)) as u64
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

/// Zipf-like ranks with exponent 1.1 over 1..=n: the continuous power law x^-1.1 on [1, n+1),
/// sampled by inversion and floored. With exponent 1.1 the inverse needs b^-10 only, i.e.
/// multiplications, so a sample costs a few nanoseconds and is bit-identical everywhere.
#[derive(Clone, Debug)]
pub(super) struct Zipf {
    n: u64,
    c: f64,
}

impl Zipf {
    pub(super) fn new(n: u64) -> Self {
        let n = n.max(1);
        // (n + 1)^-0.1
        let tail = det_exp(-0.1 * det_ln(n as f64 + 1.0));
        Self { n, c: 1.0 - tail }
    }

    /// A rank in 1..=n; rank 1 is the most popular.
    pub(super) fn sample(&self, rng: &mut Rng) -> u64 {
        // CDF F(x) = (1 - x^-0.1) / c, so x = (1 - u c)^-10; b >= (n+1)^-0.1 > 0.
        let b = 1.0 - rng.f64() * self.c;
        let b2 = b * b;
        let b4 = b2 * b2;
        let b8 = b4 * b4;
        let x = 1.0 / (b8 * b2);
        (x as u64).clamp(1, self.n)
    }
}

// ln 2 split in a high part with trailing zero bits and the rest (fdlibm's constants).
const LN2_HI: f64 = f64::from_bits(0x3FE6_2E42_FEE0_0000);
const LN2_LO: f64 = f64::from_bits(0x3DEA_39EF_3579_3C76);
const INV_LN2: f64 = std::f64::consts::LOG2_E;

/// Natural logarithm from basic IEEE operations only (relative error ~1e-15).
pub(super) fn det_ln(x: f64) -> f64 {
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return f64::NEG_INFINITY;
    }
    if x.is_infinite() {
        return x;
    }
    let mut bits = x.to_bits();
    let mut e: i64 = 0;
    if bits >> 52 == 0 {
        // Subnormal: scale into the normal range first.
        bits = (x * 18_014_398_509_481_984.0).to_bits(); // 2^54
        e = -54;
    }
    e += ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut m = f64::from_bits((bits & 0x000F_FFFF_FFFF_FFFF) | 0x3FF0_0000_0000_0000);
    if m > std::f64::consts::SQRT_2 {
        m *= 0.5;
        e += 1;
    }
    // ln(m) = 2 atanh(z), z = (m-1)/(m+1), |z| <= 0.1716: the series converges fast.
    let z = (m - 1.0) / (m + 1.0);
    let z2 = z * z;
    let mut s = 0.0;
    let mut k = 25_i32;
    while k >= 1 {
        s = 1.0 / f64::from(k) + z2 * s;
        k -= 2;
    }
    let e = e as f64;
    e * LN2_HI + (e * LN2_LO + 2.0 * z * s)
}

/// e^x from basic IEEE operations only (relative error ~1e-15).
pub(super) fn det_exp(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    if x > 709.0 {
        return f64::INFINITY;
    }
    if x < -745.0 {
        return 0.0;
    }
    let k = (x * INV_LN2).round();
    let r = (x - k * LN2_HI) - k * LN2_LO;
    // |r| <= ln2/2: Taylor series to degree 14, evaluated by Horner.
    let mut p = 1.0;
    let mut i = 14_i32;
    while i >= 1 {
        p = 1.0 + r * p / f64::from(i);
        i -= 1;
    }
    let k = k as i32;
    // Scale by 2^k in two steps so that subnormal results stay representable.
    let half = k / 2;
    p * pow2(half) * pow2(k - half)
}

fn pow2(k: i32) -> f64 {
    let k = k.clamp(-1022, 1023);
    f64::from_bits(((k + 1023) as u64) << 52)
}
