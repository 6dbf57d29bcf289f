//! LiteLLM payloads: the payload reader and the converter the scan and the service use give the
//! same record or the same reason, for every choice of account key.
#![no_main]

use distillguard::record::litellm::{self, AccountKey};
use distillguard::record::{Converter, Record, Shape};
use distillguard_fuzz::check_record;
use libfuzzer_sys::fuzz_target;

const KEYS: [AccountKey; 6] = [
    AccountKey::User,
    AccountKey::KeyHash,
    AccountKey::KeyAlias,
    AccountKey::Team,
    AccountKey::Org,
    AccountKey::EndUser,
];

fuzz_target!(|input: &[u8]| {
    let Some((&b, data)) = input.split_first() else {
        return;
    };
    let key = KEYS[usize::from(b) % KEYS.len()];
    let direct = litellm::parse(data, key);
    let convert = Converter {
        litellm_account: key,
        ..Converter::default()
    };
    let mut scratch = Vec::new();
    let via = convert
        .parse(data, Shape::Litellm, &mut scratch)
        .map(Record::into_owned);
    assert_eq!(direct, via);
    if let Ok(rec) = &direct {
        check_record(rec);
    }
    let _ = litellm::looks_like(data);
});
