//! `ts` and `account_created_at`: RFC 3339 strings or Unix seconds.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};

/// Earliest and latest times accepted: outside them a value is almost surely
/// a unit mistake (milliseconds sent as seconds) or a placeholder.
const MIN_SECONDS: f64 = 946_684_800.0; // 2000-01-01
const MAX_SECONDS: f64 = 4_102_444_800.0; // 2100-01-01

/// A timestamp in Unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct TsMs(pub i64);

impl TsMs {
    /// A time given as a string.
    pub(super) fn from_text(v: &str) -> Result<TsMs, String> {
        if let Some(ms) = parse_rfc3339_ms(v) {
            return Ok(TsMs(ms));
        }
        // Some shippers quote numbers; take them as the seconds they are.
        if let Ok(s) = v.trim().parse::<f64>() {
            return seconds_to_ms(s).map(TsMs);
        }
        Err(format!(
            "expected an RFC 3339 time such as 2026-03-01T12:00:00Z or Unix seconds, got {v:?}"
        ))
    }
}

pub(super) fn seconds_to_ms(s: f64) -> Result<i64, String> {
    if !s.is_finite() {
        return Err(format!("{s} is not a time"));
    }
    if s > MAX_SECONDS {
        return Err(format!(
            "{s} is after 2100 as Unix seconds (milliseconds sent as seconds?)"
        ));
    }
    if s < MIN_SECONDS {
        return Err(format!("{s} is before 2000 as Unix seconds"));
    }
    Ok((s * 1000.0).round() as i64)
}

impl<'de> serde::Deserialize<'de> for TsMs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = TsMs;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an RFC 3339 time (2026-03-01T12:00:00Z) or Unix seconds")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<TsMs, E> {
                seconds_to_ms(v).map(TsMs).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<TsMs, E> {
                self.visit_f64(v as f64)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<TsMs, E> {
                self.visit_f64(v as f64)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TsMs, E> {
                TsMs::from_text(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// Parses an RFC 3339 time into Unix milliseconds.
///
/// The common shape `YYYY-MM-DDTHH:MM:SS[.fff]Z` is parsed by hand (it is on
/// the hot path of every record); anything else goes through chrono.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    fast_utc(s.as_bytes()).or_else(|| {
        chrono::DateTime::parse_from_rfc3339(s.trim())
            .ok()
            .map(|t| t.timestamp_millis())
    })
}

fn fast_utc(b: &[u8]) -> Option<i64> {
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' || !matches!(b[b.len() - 1], b'Z' | b'z') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let mut v = 0i64;
        for &c in &b[r] {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(c - b'0');
        }
        Some(v)
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let mut millis = 0i64;
    let rest = &b[19..b.len() - 1];
    if !rest.is_empty() {
        if rest[0] != b'.' || rest.len() < 2 {
            return None;
        }
        let digits = &rest[1..];
        let mut scale = 100i64;
        for &c in digits {
            if !c.is_ascii_digit() {
                return None;
            }
            millis += i64::from(c - b'0') * scale;
            scale /= 10;
        }
    }
    if day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second.min(59) * 1000 + millis)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_path_agrees_with_chrono() {
        for s in [
            "2026-03-01T12:00:00Z",
            "2026-03-01T12:00:00.5Z",
            "2026-03-01T12:00:00.123Z",
            "2026-03-01T12:00:00.123456Z",
            "2024-02-29T23:59:59Z",
            "2000-01-01T00:00:00Z",
            "1999-12-31T23:59:59.999Z",
        ] {
            let want = chrono::DateTime::parse_from_rfc3339(s)
                .unwrap()
                .timestamp_millis();
            assert_eq!(fast_utc(s.as_bytes()), Some(want), "{s}");
        }
    }

    #[test]
    fn offsets_fall_back_to_chrono() {
        assert_eq!(fast_utc(b"2026-03-01T13:00:00+01:00"), None);
        assert_eq!(
            parse_rfc3339_ms("2026-03-01T13:00:00+01:00"),
            parse_rfc3339_ms("2026-03-01T12:00:00Z")
        );
    }

    #[test]
    fn impossible_dates_are_rejected() {
        assert_eq!(parse_rfc3339_ms("2026-02-30T00:00:00Z"), None);
        assert_eq!(parse_rfc3339_ms("2026-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339_ms("yesterday"), None);
    }

    #[test]
    fn seconds_range_catches_milliseconds() {
        assert!(seconds_to_ms(1_772_000_000.0).is_ok());
        let err = seconds_to_ms(1_772_000_000_000.0).unwrap_err();
        assert!(err.contains("milliseconds"), "{err}");
    }
}
