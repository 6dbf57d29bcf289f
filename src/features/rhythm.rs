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

/// Hours an account may be active in before its counts take the whole ring: below it, a list of
/// (hour, count) pairs is smaller than the ring (most accounts send a handful of requests).
const FEW_HOURS: usize = 32;

/// Requests per absolute hour, over a ring of [`RING_HOURS`].
///
/// Streams longer than the ring fold onto it; the spread is then taken over the whole ring.
/// Counters saturate at 255 (more than a person sends in an hour; a busier hour only makes a
/// script look steadier).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(into = "Ring", try_from = "Ring")]
pub struct HourCounts {
    /// Up to [`FEW_HOURS`] hours with requests, as (slot, count) ascending by slot; then, for
    /// good, all [`RING_HOURS`] counters (256 bytes). Which one depends only on how many
    /// distinct slots were seen, so equal counts are always held alike.
    counts: Counts,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Counts {
    Few(Vec<(u8, u8)>),
    Ring(Box<[u8; RING_HOURS]>),
}

impl Default for Counts {
    fn default() -> Self {
        Counts::Few(Vec::new())
    }
}

/// How snapshots store the counts, whichever way they are held: empty until the first request,
/// then every counter of the ring.
#[derive(serde::Serialize, serde::Deserialize)]
struct Ring {
    counts: Vec<u8>,
}

impl From<HourCounts> for Ring {
    fn from(h: HourCounts) -> Ring {
        let counts = match h.counts {
            Counts::Few(few) if few.is_empty() => Vec::new(),
            Counts::Few(_) => h.ring().to_vec(),
            Counts::Ring(ring) => ring.to_vec(),
        };
        Ring { counts }
    }
}

impl TryFrom<Ring> for HourCounts {
    type Error = String;

    fn try_from(r: Ring) -> Result<HourCounts, String> {
        if r.counts.is_empty() {
            return Ok(HourCounts::default());
        }
        let ring: Box<[u8; RING_HOURS]> = r
            .counts
            .into_boxed_slice()
            .try_into()
            .map_err(|c: Box<[u8]>| format!("{} hourly counts, not {RING_HOURS}", c.len()))?;
        let few: Vec<(u8, u8)> = (0..RING_HOURS)
            .filter(|&slot| ring[slot] > 0)
            .map(|slot| (slot as u8, ring[slot]))
            .collect();
        let counts = if few.len() <= FEW_HOURS {
            Counts::Few(few)
        } else {
            Counts::Ring(ring)
        };
        Ok(HourCounts { counts })
    }
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
        let slot = ts_ms.div_euclid(3_600_000).rem_euclid(RING_HOURS as i64) as usize;
        match &mut self.counts {
            Counts::Ring(ring) => ring[slot] = ring[slot].saturating_add(1),
            Counts::Few(few) => match few.binary_search_by_key(&(slot as u8), |e| e.0) {
                Ok(i) => few[i].1 = few[i].1.saturating_add(1),
                Err(i) if few.len() < FEW_HOURS => few.insert(i, (slot as u8, 1)),
                Err(_) => {
                    let mut ring = Box::new(self.ring());
                    ring[slot] = 1;
                    self.counts = Counts::Ring(ring);
                }
            },
        }
    }

    /// Every counter of the ring.
    fn ring(&self) -> [u8; RING_HOURS] {
        match &self.counts {
            Counts::Ring(ring) => **ring,
            Counts::Few(few) => {
                let mut ring = [0; RING_HOURS];
                for &(slot, count) in few {
                    ring[slot as usize] = count;
                }
                ring
            }
        }
    }

    fn is_empty(&self) -> bool {
        matches!(&self.counts, Counts::Few(few) if few.is_empty())
    }

    /// The spread of the counts over the hours from `first_ms` to `last_ms`.
    pub fn spread(&self, first_ms: i64, last_ms: i64) -> Spread {
        if self.is_empty() || last_ms < first_ms {
            return Spread::default();
        }
        let counts = self.ring();
        let first = first_ms.div_euclid(3_600_000);
        let span = (last_ms.div_euclid(3_600_000) - first + 1).min(RING_HOURS as i64);
        let slots = (0..span).map(|h| (first + h).rem_euclid(RING_HOURS as i64) as usize);
        let requests: u64 = slots.clone().map(|s| u64::from(counts[s])).sum();
        let mean = requests as f64 / span as f64;
        let squares = slots.map(|s| (f64::from(counts[s]) - mean).powi(2)).sum();
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
    fn counts_of_few_hours_and_of_many_read_and_store_alike() {
        // 20 hours with requests, then 60: held as a list, then as the whole ring.
        for hours in [20, 60] {
            let times: Vec<i64> = (0..hours * 3).map(|i| (i % hours) * 2 * H + i).collect();
            let c = counts(times.iter().copied());
            assert_eq!(c.ring().iter().filter(|&&n| n > 0).count(), hours as usize);
            assert_eq!(
                matches!(c.counts, Counts::Ring(_)),
                hours > FEW_HOURS as i64
            );
            let s = c.spread(0, times.iter().copied().max().unwrap());
            assert_eq!(s.requests, hours as u64 * 3);
            // Snapshots hold the whole ring, whichever way the counts are held in memory.
            let bytes = postcard::to_stdvec(&c).unwrap();
            assert_eq!(bytes, postcard::to_stdvec(&c.ring().to_vec()).unwrap());
            assert_eq!(postcard::from_bytes::<HourCounts>(&bytes).unwrap(), c);
        }
        let none = HourCounts::default();
        assert_eq!(postcard::to_stdvec(&none).unwrap(), [0]);
        assert!(postcard::from_bytes::<HourCounts>(&[3, 1, 2, 3]).is_err());
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
