//! A per-token limit on records ingested per second, so one shipper cannot take the whole
//! capacity from the others. A token bucket per caller that may go into debt: a batch is taken
//! whenever the bucket is not in debt, whatever its size, and the debt says how long the next
//! one waits (`429` with `Retry-After`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

pub struct RateLimits {
    /// Records per second per caller; 0: no limit.
    per_s: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    /// Records that may be taken now; negative: owed.
    tokens: f64,
    at: Instant,
}

impl RateLimits {
    pub fn new(per_s: u64) -> Self {
        RateLimits {
            per_s: per_s as f64,
            buckets: Mutex::default(),
        }
    }

    /// Takes `records` for `caller`, or says in how many seconds to try again.
    pub fn take(&self, caller: &str, records: u64) -> Result<(), u64> {
        if self.per_s == 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().expect("rate buckets");
        let b = buckets.entry(caller.to_string()).or_insert(Bucket {
            tokens: self.per_s,
            at: now,
        });
        // At most one second's worth saved up.
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * self.per_s).min(self.per_s);
        b.at = now;
        if b.tokens < 0.0 {
            return Err((-b.tokens / self.per_s).ceil().max(1.0) as u64);
        }
        b.tokens -= records as f64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_in_debt_waits_and_others_do_not() {
        let r = RateLimits::new(100);
        assert_eq!(r.take("a", 250), Ok(()), "one batch may exceed the rate");
        assert_eq!(r.take("a", 1), Err(2), "150 owed at 100/s");
        assert_eq!(r.take("b", 100), Ok(()));
        assert_eq!(RateLimits::new(0).take("a", u64::MAX), Ok(()));
    }
}
