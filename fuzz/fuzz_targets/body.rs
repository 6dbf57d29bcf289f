//! The HTTP body decoder: a gzip/zstd/plain body decodes to at most the limit, or is refused as
//! too large or corrupt, never anything else; a larger limit decodes the same bytes; then the
//! body is split and parsed as `POST /v1/logs` does, every item accepted or rejected.
#![no_main]

use distillguard::record::Converter;
use distillguard::source::{self, Compression, DecompressError};
use distillguard_fuzz::{check_items, parse_items, split_all};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    if input.len() < 3 {
        return;
    }
    let (head, data) = input.split_at(3);
    let limit = usize::from(u16::from_le_bytes([head[1], head[2]]));
    let compression = match head[0] & 3 {
        0 => Compression::None,
        1 => Compression::Gzip,
        2 => Compression::Zstd,
        _ => source::detect(&data[..data.len().min(source::MAGIC_LEN)], None),
    };
    let out = match source::decompress_bounded(data, compression, limit) {
        Ok(out) => out,
        Err(DecompressError::TooLarge { limit: l }) => {
            assert_eq!(l, limit);
            if compression == Compression::None {
                assert!(data.len() > limit);
            }
            // The body really is larger than the limit (or corrupt after it).
            if let Ok(more) = source::decompress_bounded(data, compression, limit * 4 + 64) {
                assert!(
                    more.len() > limit,
                    "refused {} bytes under {limit}",
                    more.len()
                );
            }
            return;
        }
        Err(DecompressError::Corrupt(_)) => {
            assert_ne!(compression, Compression::None);
            return;
        }
    };
    assert!(out.len() <= limit, "{} bytes out, limit {limit}", out.len());
    if compression == Compression::None {
        assert_eq!(out, data);
    }
    let again =
        source::decompress_bounded(data, compression, limit * 2 + 1).expect("under a larger limit");
    assert_eq!(again, out);

    let max = 256;
    let items = split_all(&out, max);
    check_items(&out, &items, max);
    parse_items(&items, &Converter::default());
});
