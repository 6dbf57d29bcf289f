//! NDJSON / JSON-array splitting: the whole-buffer splitter (HTTP bodies) and the incremental
//! one fed in chunks (files) cut the same items; items stay in order and in range; every item
//! is accepted or rejected.
#![no_main]

use distillguard::record::Converter;
use distillguard::source::{self, Layout};
use distillguard_fuzz::{
    check_items, chunk, options, parse_items, plain_input, read_all, split_all,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((b, data)) = plain_input(input) else {
        return;
    };
    let opts = options(b, Layout::Json);
    let max = opts.max_record_bytes;
    let refs = source::split_items(data, max);
    let mut end = 0;
    // An oversize item keeps no bytes, so its (empty) range says nothing about order.
    for r in refs.iter().filter(|r| r.oversize.is_none()) {
        assert!(
            r.start as usize >= end && r.start <= r.end,
            "{r:?} overlaps"
        );
        end = r.end as usize;
    }
    assert!(end <= data.len());
    let whole = split_all(data, max);
    check_items(data, &whole, max);

    let chunk = chunk(b);
    let (summary, streamed) = read_all(data, chunk, &opts);
    let summary = summary.expect("reading memory cannot fail");
    assert_eq!(summary.items, streamed.len() as u64);
    assert_eq!(streamed, whole, "streamed in chunks of {chunk}");
    parse_items(&whole, &Converter::default());
});
