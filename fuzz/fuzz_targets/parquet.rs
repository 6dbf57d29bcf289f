//! Parquet: a corrupt file is an error, never a panic; rows are numbered 1, 2, 3…; each row is a
//! JSON object, accepted or rejected.
#![no_main]

use distillguard::record::Converter;
use distillguard::source::Layout;
use distillguard_fuzz::{options, parse_items, read_all};
use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: {
        // The reader turns the parquet crate's panics on corrupt files into errors; the default
        // hook would abort on them first. Panics anywhere else still abort the run.
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // The crate is the patched copy under vendor/parquet (or a registry one).
            let in_parquet = info.location().is_some_and(|l| {
                l.file().contains("vendor/parquet/") || l.file().contains("/parquet-")
            });
            if !in_parquet {
                default(info);
            }
        }));
    },
    |input: &[u8]| {
    let Some((&b, data)) = input.split_first() else {
        return;
    };
    let opts = options(b, Layout::Parquet);
    let (summary, items) = read_all(data, 1 << 16, &opts);
    if let Ok(s) = &summary {
        assert_eq!(s.items, items.len() as u64);
    }
    for (i, it) in items.iter().enumerate() {
        assert_eq!(it.line, i as u64 + 1, "rows are numbered in order");
        if it.oversize.is_none() {
            let v: serde_json::Value =
                serde_json::from_slice(&it.bytes).expect("a Parquet row becomes valid JSON");
            assert!(v.is_object());
        }
    }
    parse_items(&items, &Converter::default());
    }
);
