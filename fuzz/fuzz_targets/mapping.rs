//! `--map FIELD=PATH`: input is the specs, one a line, a NUL, then one record. Any spec is
//! accepted or refused, any record accepted (keeping the contract's guarantees) or rejected;
//! an identity mapping changes nothing about a record the plain parser accepts.
#![no_main]

use distillguard::record::mapping::lookup;
use distillguard::record::{Converter, FieldMap, Record, Shape};
use distillguard_fuzz::check_record;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some(nul) = input.iter().position(|&b| b == 0) else {
        return;
    };
    let (specs, rec) = (&input[..nul], &input[nul + 1..]);
    let Ok(specs) = std::str::from_utf8(specs) else {
        return;
    };
    let specs: Vec<&str> = specs.lines().collect();
    let mut scratch = Vec::new();
    if let Ok(map) = FieldMap::parse(&specs) {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(rec) {
            for m in map.mappings() {
                let _ = lookup(&v, &m.source);
            }
        }
        let convert = Converter {
            map,
            ..Converter::default()
        };
        for shape in [Shape::Contract, Shape::Litellm] {
            match convert.parse(rec, shape, &mut scratch) {
                Ok(r) => check_record(&r),
                Err(e) => assert!(!e.0.is_empty()),
            }
        }
        let _ = convert.map.unmatched().count();
    }

    if let Ok(plain) = Record::parse(rec) {
        let plain = plain.into_owned();
        let identity = FieldMap::parse(&[
            "ts=ts",
            "account_id=account_id",
            "request_id=request_id",
            "ip=ip",
            "model=model",
            "status=status",
            "prompt_tokens=prompt_tokens",
        ])
        .expect("identity specs");
        let convert = Converter {
            map: identity,
            ..Converter::default()
        };
        let mapped = convert
            .parse(rec, Shape::Contract, &mut scratch)
            .expect("an identity map rejects nothing the plain parser accepts");
        assert_eq!(mapped.into_owned(), plain);
    }
});
