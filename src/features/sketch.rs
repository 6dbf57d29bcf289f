//! Small fixed-size sketches whose contents do not depend on arrival order.
//!
//! Every sketch here keeps the values with the smallest hashes ("bottom-k").
//! Which values survive depends only on the set of values seen, never on the
//! order they came in, so the same records give the same state whether they
//! are scanned from a file, posted in batches, or replayed after a restart.
//! Two accounts that draw from the same pool of values keep overlapping
//! samples (coordinated sampling), which is what the cross-account stage needs.

/// The `K` distinct values with the smallest hashes, each with how often it was seen.
///
/// Counts are exact: a value that enters the sample has been tracked since its
/// first occurrence, because the admission threshold only ever falls.
///
/// Hashes and counts are two arrays rather than one of (u64, u32) pairs, which would pad each
/// pair to 16 bytes: an account holds fifteen of these sketches, and the padding was a fifth
/// of its fixed state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopValues<const K: usize> {
    len: u8,
    /// Distinct values seen beyond `K` (an exact count until the sample fills).
    overflowed: bool,
    /// The live hashes, ascending, in `hashes[..len]`; `counts[i]` is `hashes[i]`'s.
    hashes: [u64; K],
    counts: [u32; K],
}

impl<const K: usize> Default for TopValues<K> {
    fn default() -> Self {
        TopValues {
            len: 0,
            overflowed: false,
            hashes: [0; K],
            counts: [0; K],
        }
    }
}

impl<const K: usize> TopValues<K> {
    /// Counts one occurrence of `hash`. Returns true when the value is newly admitted.
    pub fn add(&mut self, hash: u64) -> bool {
        let len = self.len as usize;
        match self.hashes[..len].binary_search(&hash) {
            Ok(i) => {
                self.counts[i] = self.counts[i].saturating_add(1);
                false
            }
            Err(i) => {
                if len == K {
                    self.overflowed = true;
                    if i == K {
                        return false;
                    }
                    self.hashes[i..].rotate_right(1);
                    self.counts[i..].rotate_right(1);
                } else {
                    self.hashes[i..=len].rotate_right(1);
                    self.counts[i..=len].rotate_right(1);
                    self.len += 1;
                }
                self.hashes[i] = hash;
                self.counts[i] = 1;
                true
            }
        }
    }

    /// (hash, count) pairs, smallest hash first.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        let len = self.len as usize;
        self.hashes[..len]
            .iter()
            .copied()
            .zip(self.counts[..len].iter().copied())
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Estimated number of distinct values: exact up to `K`, a KMV estimate beyond.
    pub fn distinct(&self) -> f64 {
        let len = self.len as usize;
        distinct_estimate(
            self.overflowed,
            len,
            len.checked_sub(1).map_or(0, |i| self.hashes[i]),
        )
    }

    /// Whether more distinct values were seen than the sketch holds.
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// Rebuilds a sketch from its parts, as a snapshot holds them.
    fn from_parts(overflowed: bool, live: &[(u64, u32)]) -> Option<Self> {
        if live.len() > K || !live.windows(2).all(|w| w[0].0 < w[1].0) {
            return None;
        }
        let mut out = TopValues {
            len: live.len() as u8,
            overflowed,
            ..Default::default()
        };
        for (i, &(hash, count)) in live.iter().enumerate() {
            out.hashes[i] = hash;
            out.counts[i] = count;
        }
        Some(out)
    }

    /// Count of the most frequent sampled value, and the sum of sampled counts.
    pub fn top_share(&self) -> (u32, u32) {
        let max = self.iter().map(|s| s.1).max().unwrap_or(0);
        let sum = self.iter().map(|s| s.1).sum();
        (max, sum)
    }
}

/// Distinct values behind a bottom-k sample of `len` hashes whose largest is `kth`: exact
/// when nothing was dropped (`overflowed` false), the KMV estimate (k-1)/kth beyond.
pub fn distinct_estimate(overflowed: bool, len: usize, kth: u64) -> f64 {
    if !overflowed || len < 2 {
        return len as f64;
    }
    let kth = kth as f64 / u64::MAX as f64;
    ((len - 1) as f64 / kth.max(f64::MIN_POSITIVE)).max(len as f64)
}

/// The `K` items with the smallest keys; an item with a key already held is ignored.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BottomK<T, const K: usize> {
    items: Vec<(u64, T)>,
}

impl<T, const K: usize> Default for BottomK<T, K> {
    fn default() -> Self {
        BottomK { items: Vec::new() }
    }
}

impl<T, const K: usize> BottomK<T, K> {
    /// Whether `key` would be admitted; lets callers skip building `T`.
    pub fn would_admit(&self, key: u64) -> bool {
        self.items.len() < K || key < self.items[K - 1].0
    }

    /// Offers an item; `make` runs only when the item is admitted.
    pub fn offer(&mut self, key: u64, make: impl FnOnce() -> T) -> bool {
        if !self.would_admit(key) {
            return false;
        }
        match self.items.binary_search_by_key(&key, |s| s.0) {
            Ok(_) => false,
            Err(i) => {
                if self.items.len() == K {
                    self.items.pop();
                }
                self.items.insert(i, (key, make()));
                true
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.items.iter().map(|(_, t)| t)
    }

    /// Items from position `start` on, smallest key first.
    pub fn tail_mut(&mut self, start: usize) -> impl Iterator<Item = &mut T> + '_ {
        self.items.iter_mut().skip(start).map(|(_, t)| t)
    }

    /// (key, item) pairs, smallest key first.
    pub fn entries(&self) -> impl Iterator<Item = (u64, &T)> + '_ {
        self.items.iter().map(|(k, t)| (*k, t))
    }

    pub fn keys(&self) -> impl Iterator<Item = u64> + '_ {
        self.items.iter().map(|(k, _)| *k)
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

// Snapshots store only the live slots, as (hash, count) pairs; serde has no impls for arrays of
// a generic length.
impl<const K: usize> serde::Serialize for TopValues<K> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        struct Live<'a, const K: usize>(&'a TopValues<K>);
        impl<const K: usize> serde::Serialize for Live<'_, K> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(self.0.iter())
            }
        }
        let mut t = s.serialize_tuple(2)?;
        t.serialize_element(&self.overflowed)?;
        t.serialize_element(&Live(self))?;
        t.end()
    }
}

impl<'de, const K: usize> serde::Deserialize<'de> for TopValues<K> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (overflowed, live): (bool, Vec<(u64, u32)>) = serde::Deserialize::deserialize(d)?;
        TopValues::from_parts(overflowed, &live).ok_or_else(|| {
            serde::de::Error::custom(format!("a sketch of at most {K} sorted values"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_values_keep_smallest_hashes_with_exact_counts() {
        let mut t = TopValues::<3>::default();
        for h in [50, 10, 50, 40, 30, 10, 10, 20] {
            t.add(h);
        }
        let got: Vec<_> = t.iter().collect();
        assert_eq!(got, vec![(10, 3), (20, 1), (30, 1)]);
        assert!(t.overflowed());
    }

    #[test]
    fn top_values_do_not_depend_on_order() {
        let seq: Vec<u64> = (0..200u64).map(|i| (i * 7919) % 61).collect();
        let mut a = TopValues::<4>::default();
        let mut b = TopValues::<4>::default();
        seq.iter().for_each(|&h| {
            a.add(h);
        });
        seq.iter().rev().for_each(|&h| {
            b.add(h);
        });
        assert_eq!(a, b);
    }

    #[test]
    fn top_values_encode_as_pairs_and_come_back() {
        let mut t = TopValues::<4>::default();
        for h in [7, 3, 7, 9, 1, 5, 3, 7] {
            t.add(h);
        }
        let bytes = postcard::to_stdvec(&t).unwrap();
        // The layout snapshots have always had: the overflow flag, then the live (hash, count)s.
        let pairs: Vec<(u64, u32)> = vec![(1, 1), (3, 2), (5, 1), (7, 3)];
        assert_eq!(bytes, postcard::to_stdvec(&(true, pairs)).unwrap());
        assert_eq!(postcard::from_bytes::<TopValues<4>>(&bytes).unwrap(), t);
    }

    #[test]
    fn distinct_is_exact_until_full_then_estimated() {
        let mut t = TopValues::<8>::default();
        for i in 0..5u64 {
            t.add(xxhash_rust::xxh3::xxh3_64(&i.to_le_bytes()));
        }
        assert_eq!(t.distinct(), 5.0);
        let mut t = TopValues::<8>::default();
        for i in 0..1000u64 {
            t.add(xxhash_rust::xxh3::xxh3_64(&i.to_le_bytes()));
        }
        let est = t.distinct();
        assert!((250.0..4000.0).contains(&est), "{est}");
    }

    #[test]
    fn bottom_k_is_order_independent_and_bounded() {
        let mut a = BottomK::<u64, 5>::default();
        let mut b = BottomK::<u64, 5>::default();
        for k in [9u64, 3, 7, 1, 8, 2, 6, 3] {
            a.offer(k, || k * 10);
        }
        for k in [3u64, 6, 2, 8, 1, 7, 3, 9] {
            b.offer(k, || k * 10);
        }
        assert_eq!(a, b);
        assert_eq!(
            a.iter().copied().collect::<Vec<_>>(),
            vec![10, 20, 30, 60, 70]
        );
        assert!(!a.would_admit(8));
    }
}
