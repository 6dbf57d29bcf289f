//! One JSON value → record: never panics; an accepted record is a JSON object and keeps the
//! contract's guarantees; the hand-written RFC 3339 fast path agrees with chrono.
#![no_main]

use distillguard::record::{Record, parse_rfc3339_ms};
use distillguard_fuzz::check_record;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match Record::parse(data) {
        Ok(rec) => {
            check_record(&rec);
            let v: serde_json::Value =
                serde_json::from_slice(data).expect("an accepted record is valid JSON");
            assert!(v.is_object(), "an accepted record is an object");
            assert_eq!(rec.clone().into_owned(), rec);
        }
        Err(e) => assert!(!e.0.is_empty(), "a reject says why"),
    }
    if let Ok(s) = std::str::from_utf8(data)
        && let Some(ms) = parse_rfc3339_ms(s)
        && let Ok(t) = chrono::DateTime::parse_from_rfc3339(s.trim())
    {
        assert_eq!(ms, t.timestamp_millis(), "{s:?}");
    }
});
