//! Random streams and the few distributions the generator needs.
//!
//! Every part of the demo draws from its own ChaCha8 stream (same seed, different stream number),
//! so that one feed's draws never shift another's: adding a week at the end of the period leaves
//! the earlier weeks' files byte-identical, and a change in one feed does not reshuffle the rest.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub(crate) type DemoRng = ChaCha8Rng;

/// Stream families; the low 48 bits of a stream number carry the index inside the family.
pub(crate) mod tag {
    pub const ENTERPRISES: u64 = 1;
    pub const CALENDAR: u64 = 2;
    pub const DAY: u64 = 3;
    pub const FILE: u64 = 4;
    pub const TASKS: u64 = 5;
    pub const CREDIT: u64 = 6;
    pub const WEEK: u64 = 7;
    pub const BASELINE: u64 = 8;
}

/// The stream `idx` of family `tag` for this seed.
pub(crate) fn stream(seed: u64, tag: u64, idx: u64) -> DemoRng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream((tag << 48) ^ (idx & 0xFFFF_FFFF_FFFF));
    rng
}

/// Standard normal draw (Box–Muller; `rand_distr` is not a dependency of sanhu).
pub(crate) fn normal(rng: &mut DemoRng) -> f64 {
    // 1 - u keeps the logarithm finite: `random` gives [0, 1).
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Log-normal draw given its median and the sigma of the underlying normal.
pub(crate) fn lognormal(rng: &mut DemoRng, median: f64, sigma: f64) -> f64 {
    median * (sigma * normal(rng)).exp()
}

pub(crate) fn chance(rng: &mut DemoRng, p: f64) -> bool {
    rng.random::<f64>() < p
}

/// Uniform draw in [lo, hi).
pub(crate) fn uniform(rng: &mut DemoRng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.random::<f64>()
}

/// Poisson draw (Knuth); only used for small means (penalties per day).
pub(crate) fn poisson(rng: &mut DemoRng, mean: f64) -> u32 {
    if mean <= 0.0 {
        return 0;
    }
    if mean > 30.0 {
        // Normal approximation: Knuth's loop would underflow and it is accurate enough here.
        return (mean + mean.sqrt() * normal(rng)).round().max(0.0) as u32;
    }
    let limit = (-mean).exp();
    let mut k = 0;
    let mut p = 1.0;
    loop {
        p *= rng.random::<f64>();
        if p <= limit {
            return k;
        }
        k += 1;
    }
}

/// Index drawn from a small weight table.
pub(crate) fn weighted(rng: &mut DemoRng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut x = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

/// Item drawn from a small `(item, weight)` table.
pub(crate) fn pick<T: Copy>(rng: &mut DemoRng, table: &[(T, f64)]) -> T {
    let mut x = rng.random::<f64>() * table.iter().map(|(_, w)| w).sum::<f64>();
    for (item, w) in table {
        if x < *w {
            return *item;
        }
        x -= w;
    }
    table[table.len() - 1].0
}

/// Uniformly chosen element of a non-empty slice.
pub(crate) fn one_of<T: Copy>(rng: &mut DemoRng, items: &[T]) -> T {
    items[rng.random_range(0..items.len())]
}

/// Draws among many items with fixed weights in O(log n) (enterprises by trade activity).
#[derive(Debug, Default)]
pub(crate) struct Sampler {
    cumulative: Vec<f64>,
    items: Vec<usize>,
}

impl Sampler {
    pub(crate) fn new(pairs: impl IntoIterator<Item = (usize, f64)>) -> Self {
        let mut s = Sampler::default();
        let mut total = 0.0;
        for (item, w) in pairs {
            if w > 0.0 {
                total += w;
                s.cumulative.push(total);
                s.items.push(item);
            }
        }
        s
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub(crate) fn sample(&self, rng: &mut DemoRng) -> usize {
        let total = *self.cumulative.last().expect("sampler is not empty");
        let x = rng.random::<f64>() * total;
        let i = self.cumulative.partition_point(|c| *c <= x);
        self.items[i.min(self.items.len() - 1)]
    }
}

/// Splits `total` into integer parts proportional to `weights` that add up exactly
/// (largest remainder; ties go to the earlier index, so the result is deterministic).
pub(crate) fn apportion(total: u64, weights: &[f64]) -> Vec<u64> {
    let sum: f64 = weights.iter().sum();
    if weights.is_empty() || sum <= 0.0 {
        return vec![0; weights.len()];
    }
    let exact: Vec<f64> = weights.iter().map(|w| total as f64 * w / sum).collect();
    let mut parts: Vec<u64> = exact.iter().map(|x| x.floor() as u64).collect();
    let assigned: u64 = parts.iter().sum();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|a, b| {
        let ra = exact[*a] - exact[*a].floor();
        let rb = exact[*b] - exact[*b].floor();
        rb.total_cmp(&ra).then(a.cmp(b))
    });
    for i in order
        .into_iter()
        .take(total.saturating_sub(assigned) as usize)
    {
        parts[i] += 1;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apportion_adds_up() {
        let parts = apportion(1000, &[1.0, 1.0, 1.0, 0.35, 0.2]);
        assert_eq!(parts.iter().sum::<u64>(), 1000);
        assert_eq!(apportion(7, &[1.0, 1.0, 1.0]), vec![3, 2, 2]);
        assert_eq!(apportion(5, &[]), Vec::<u64>::new());
    }

    #[test]
    fn streams_are_independent_and_repeatable() {
        let a: u64 = stream(7, tag::DAY, 1).random();
        let b: u64 = stream(7, tag::DAY, 1).random();
        let c: u64 = stream(7, tag::DAY, 2).random();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
