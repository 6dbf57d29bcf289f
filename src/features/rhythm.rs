//! How evenly an account's requests are spread in time: counts per absolute hour.
//!
//! A script sending at a steady rate gives hourly counts that vary about as
//! much as a Poisson stream's (variance ≈ mean) or less; a person works in
//! sessions, a handful of requests in one hour and none for many after, so
//! the counts vary far more than their mean. For a renewal process the ratio
//! variance / mean of counts in long windows (the Fano factor) tends to the
//! squared coefficient of variation of the gaps between requests, so this is
//! the regularity of inter-request timing measured without needing the
//! records in order: the counts only add up.

/// Hours kept: a ring indexed by absolute hour mod this, as for the active-hour bitmap.
pub const RING_HOURS: usize = 256;

/// Requests per absolute hour, over a ring of [`RING_HOURS`] (256 bytes once used).
///
/// Streams longer than the ring fold onto it; the spread is then taken over the whole ring.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct HourCounts {
    /// Empty until the first request, then [`RING_HOURS`] counters saturating at 255 (more
    /// than a person sends in an hour; a busier hour only makes a script look steadier).
    counts: Vec<u8>,
}

/// The spread of one account's hourly counts: what a group pools.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Spread {
    /// Hours between the first and last request (inclusive).
    pub hours: u32,
    /// Requests in them.
    pub requests: u64,
    /// Sum of squared deviations of the hourly counts from their mean.
    pub squares: f64,
}

impl Spread {
    /// Variance over mean of the hourly counts (1 for a Poisson stream).
    pub fn dispersion(&self) -> f64 {
        if self.requests == 0 {
            return 0.0;
        }
        self.squares / self.requests as f64
    }
}

impl HourCounts {
    pub fn add(&mut self, ts_ms: i64) {
        if self.counts.is_empty() {
            self.counts = vec![0; RING_HOURS];
        }
        let slot = ts_ms.div_euclid(3_600_000).rem_euclid(RING_HOURS as i64) as usize;
        self.counts[slot] = self.counts[slot].saturating_add(1);
    }

    /// The spread of the counts over the hours from `first_ms` to `last_ms`.
    pub fn spread(&self, first_ms: i64, last_ms: i64) -> Spread {
        if self.counts.is_empty() || last_ms < first_ms {
            return Spread::default();
        }
        let first = first_ms.div_euclid(3_600_000);
        let span = (last_ms.div_euclid(3_600_000) - first + 1).min(RING_HOURS as i64);
        let slots = (0..span).map(|h| (first + h).rem_euclid(RING_HOURS as i64) as usize);
        let requests: u64 = slots.clone().map(|s| u64::from(self.counts[s])).sum();
        let mean = requests as f64 / span as f64;
        let squares = slots
            .map(|s| (f64::from(self.counts[s]) - mean).powi(2))
            .sum();
        Spread {
            hours: span as u32,
            requests,
            squares,
        }
    }
}

/// Share of requests in the quietest `window` consecutive hours of the day (UTC, wrapping at
/// midnight). People sleep: a few percent of their requests fall in their quietest six hours,
/// wherever they live; a machine that never stops sends a quarter of them there.
pub fn quiet_share(hours: &[u32; 24], window: usize) -> f64 {
    let total: u64 = hours.iter().map(|&c| u64::from(c)).sum();
    if total == 0 {
        return 0.0;
    }
    let quietest = (0..24)
        .map(|start| {
            (0..window)
                .map(|k| u64::from(hours[(start + k) % 24]))
                .sum::<u64>()
        })
        .min()
        .unwrap_or(0);
    quietest as f64 / total as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    fn counts(times: impl IntoIterator<Item = i64>) -> HourCounts {
        let mut c = HourCounts::default();
        times.into_iter().for_each(|t| c.add(t));
        c
    }

    #[test]
    fn steady_stream_has_low_dispersion_and_sessions_high() {
        // Four requests every hour for two days.
        let steady = counts((0..48 * 4).map(|i| i * H / 4));
        let s = steady.spread(0, 48 * H - 1);
        assert_eq!((s.hours, s.requests), (48, 192));
        assert!(s.dispersion() < 0.01, "{}", s.dispersion());
        // The same 192 requests in eight sessions of 24, one every six hours.
        let sessions = counts((0..8).flat_map(|d| (0..24).map(move |k| d * 6 * H + k * 60_000)));
        let s = sessions.spread(0, 7 * 6 * H + 23 * 60_000);
        assert!(s.dispersion() > 10.0, "{}", s.dispersion());
    }

    #[test]
    fn counts_do_not_depend_on_order() {
        let times: Vec<i64> = (0..500).map(|i| (i * 7919) % (100 * H)).collect();
        let a = counts(times.iter().copied());
        let b = counts(times.iter().rev().copied());
        assert_eq!(a, b);
    }

    #[test]
    fn long_streams_fold_onto_the_ring() {
        let c = counts((0..1000).map(|h| h * H));
        let s = c.spread(0, 999 * H);
        assert_eq!(s.hours, RING_HOURS as u32);
        assert_eq!(s.requests, 1000);
    }

    #[test]
    fn quiet_share_of_a_day_and_of_a_machine() {
        let mut day = [0u32; 24];
        for (h, c) in day.iter_mut().enumerate() {
            *c = if (8..22).contains(&h) { 10 } else { 0 };
        }
        day[2] = 1;
        // The quietest six hours hold only the one request at 2 o'clock.
        assert_eq!(quiet_share(&day, 6), 1.0 / 141.0);
        assert_eq!(quiet_share(&[5; 24], 6), 0.25);
        assert_eq!(quiet_share(&[0; 24], 6), 0.0);
    }
}
