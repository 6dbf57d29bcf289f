//! When requests happen: daily rhythms in local time, gaps between turns, steady machine streams.

use rand::Rng;
use rand_distr::{Distribution, Exp, LogNormal};

pub(crate) const SEC: i64 = 1_000;
pub(crate) const MIN: i64 = 60 * SEC;
pub(crate) const HOUR: i64 = 60 * MIN;
pub(crate) const DAY: i64 = 24 * HOUR;

/// Relative activity by local hour, and how much of it is left on weekends.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Rhythm {
    /// People at home: evenings peak, nights quiet, weekends as busy as weekdays.
    Evening,
    /// Developers: working hours plus some evening, quieter weekends.
    Daytime,
    /// Office use: business hours on weekdays only.
    Business,
    /// Products serving users everywhere: mild swing around the clock.
    Flat,
}

const EVENING: [f64; 24] = [
    0.18, 0.09, 0.05, 0.03, 0.03, 0.05, 0.12, 0.3, 0.5, 0.65, 0.75, 0.8, 0.85, 0.8, 0.78, 0.78,
    0.8, 0.85, 0.9, 0.95, 1.0, 0.95, 0.7, 0.38,
];
const DAYTIME: [f64; 24] = [
    0.06, 0.03, 0.02, 0.02, 0.02, 0.03, 0.08, 0.3, 0.7, 0.95, 1.0, 1.0, 0.8, 0.95, 1.0, 1.0, 0.95,
    0.8, 0.55, 0.45, 0.45, 0.4, 0.25, 0.12,
];
const BUSINESS: [f64; 24] = [
    0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.05, 0.5, 0.95, 1.0, 1.0, 0.7, 0.9, 1.0, 1.0, 0.9, 0.6,
    0.15, 0.04, 0.02, 0.0, 0.0, 0.0,
];

/// Day of week (0 = Monday) and fractional hour in the given UTC offset.
pub(crate) fn local(ts_ms: i64, tz_min: i32) -> (i64, f64) {
    let t = ts_ms + i64::from(tz_min) * MIN;
    let day = t.div_euclid(DAY);
    let hour = t.rem_euclid(DAY) as f64 / HOUR as f64;
    // 1970-01-01 was a Thursday.
    ((day + 3).rem_euclid(7), hour)
}

pub(crate) fn weight(r: Rhythm, ts_ms: i64, tz_min: i32) -> f64 {
    let (dow, hour) = local(ts_ms, tz_min);
    let h = (hour as usize).min(23);
    let weekend = dow >= 5;
    match r {
        Rhythm::Evening => EVENING[h],
        Rhythm::Daytime => DAYTIME[h] * if weekend { 0.35 } else { 1.0 },
        Rhythm::Business => BUSINESS[h] * if weekend { 0.04 } else { 1.0 },
        Rhythm::Flat => 0.55 + 0.45 * EVENING[h],
    }
}

/// A time in [start, end) drawn with density proportional to the rhythm.
pub(crate) fn sample_time<R: Rng>(
    rng: &mut R,
    start: i64,
    end: i64,
    tz_min: i32,
    r: Rhythm,
) -> i64 {
    let span = (end - start).max(1);
    let mut t = start + rng.random_range(0..span);
    for _ in 0..400 {
        if rng.random::<f64>() < weight(r, t, tz_min) {
            return t;
        }
        t = start + rng.random_range(0..span);
    }
    t
}

/// Exponential gap with the given mean, at least 1 ms.
pub(crate) fn exp_gap<R: Rng>(rng: &mut R, mean_ms: f64) -> i64 {
    let e = Exp::new(1.0 / mean_ms.max(1.0))
        .map(|d| d.sample(rng))
        .unwrap_or(mean_ms);
    (e as i64).max(1)
}

/// Log-normal value with the given median and shape.
pub(crate) fn lognormal<R: Rng>(rng: &mut R, median: f64, sigma: f64) -> f64 {
    LogNormal::new(median.max(1e-9).ln(), sigma)
        .map(|d| d.sample(rng))
        .unwrap_or(median)
}

/// Time a person takes between two turns of a conversation: reading the answer and typing.
pub(crate) fn think_gap<R: Rng>(rng: &mut R) -> i64 {
    (lognormal(rng, 75.0, 0.8) * SEC as f64) as i64 + 8 * SEC
}

/// Arrival times of a Poisson stream with rate per hour over [start, end), thinned by `keep`.
pub(crate) fn poisson_times<R: Rng>(
    rng: &mut R,
    start: i64,
    end: i64,
    per_hour: f64,
    mut keep: impl FnMut(i64) -> f64,
) -> Vec<i64> {
    let mut out = Vec::new();
    if per_hour <= 0.0 {
        return out;
    }
    let mean = HOUR as f64 / per_hour;
    let mut t = start + exp_gap(rng, mean);
    while t < end {
        if rng.random::<f64>() < keep(t) {
            out.push(t);
        }
        t += exp_gap(rng, mean);
    }
    out
}
