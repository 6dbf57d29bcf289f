//! CSV: every row is an item (a JSON object, or rejected with a reason), lines in order, the
//! same items whatever the read sizes, and each item accepted or rejected.
#![no_main]

use distillguard::record::Converter;
use distillguard::source::Layout;
use distillguard_fuzz::{check_items, chunk, options, parse_items, plain_input, read_all};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((b, data)) = plain_input(input) else {
        return;
    };
    let opts = options(b, Layout::Csv);
    let chunk = chunk(b);
    let (summary, items) = read_all(data, chunk, &opts);
    if let Ok(s) = &summary {
        assert_eq!(s.items, items.len() as u64);
    }
    check_items(data, &items, opts.max_record_bytes);
    for it in &items {
        if it.reason.is_none() && it.oversize.is_none() {
            let v: serde_json::Value =
                serde_json::from_slice(&it.bytes).expect("a CSV row becomes valid JSON");
            assert!(v.is_object());
        }
    }
    let (again, same) = read_all(data, 1 << 20, &opts);
    assert_eq!(same, items, "read in chunks of {chunk}");
    assert_eq!(again.is_ok(), summary.is_ok());
    parse_items(&items, &Converter::default());
});
