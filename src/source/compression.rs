//! Compression detection and decoders.

use std::io::{self, Read};

/// How an input is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    #[default]
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }

    /// The compression a file name claims (`.gz`, `.zst`, `.zstd`, any case).
    pub fn from_name(name: &str) -> Compression {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".gz") {
            Compression::Gzip
        } else if lower.ends_with(".zst") || lower.ends_with(".zstd") {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// Bytes needed by [`detect`] to recognise every supported format.
pub const MAGIC_LEN: usize = 4;

/// Decides the compression from the first bytes of the data, which are trusted over the name:
/// logs are often renamed or transparently decompressed on download. The name only decides when
/// the data is too short to carry a magic number (a truncated file should then fail to decode
/// rather than pass as text).
pub fn detect(head: &[u8], name_hint: Option<&str>) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        return Compression::Gzip;
    }
    // A zstd frame, or a skippable frame (magic 0x184D2A50..=0x184D2A5F, little-endian).
    if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        || (head.len() >= 4 && head[0] & 0xf0 == 0x50 && head[1..4] == [0x2a, 0x4d, 0x18])
    {
        return Compression::Zstd;
    }
    if !head.is_empty() && head.len() < MAGIC_LEN {
        return name_hint.map_or(Compression::None, Compression::from_name);
    }
    Compression::None
}

/// Wraps `reader` in the decoder for `compression`.
pub(crate) fn decoder<'a, R: Read + 'a>(
    reader: R,
    compression: Compression,
) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match compression {
        Compression::None => Box::new(reader),
        // Multi-member: `cat a.gz b.gz` and parallel gzip tools produce several members.
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(reader)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(reader)?),
    })
}

/// Why an in-memory body could not be decompressed.
#[derive(Debug, thiserror::Error)]
pub enum DecompressError {
    #[error("decompressed body exceeds the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("compressed body is truncated or corrupt: {0}")]
    Corrupt(#[source] io::Error),
}

/// Decompresses an in-memory body, stopping as soon as the output would exceed `limit` bytes so a
/// small compressed body cannot expand into an unbounded allocation.
pub fn decompress_bounded(
    bytes: &[u8],
    compression: Compression,
    limit: usize,
) -> Result<Vec<u8>, DecompressError> {
    if compression == Compression::None {
        if bytes.len() > limit {
            return Err(DecompressError::TooLarge { limit });
        }
        return Ok(bytes.to_vec());
    }
    let dec = decoder(bytes, compression).map_err(DecompressError::Corrupt)?;
    let mut out = Vec::with_capacity(limit.min(bytes.len().saturating_mul(4)));
    dec.take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(DecompressError::Corrupt)?;
    if out.len() > limit {
        return Err(DecompressError::TooLarge { limit });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn detect_by_magic_then_name() {
        assert_eq!(detect(&gz(b"x")[..4], None), Compression::Gzip);
        let z = zstd::encode_all(&b"x"[..], 3).unwrap();
        assert_eq!(detect(&z[..4], Some("a.log")), Compression::Zstd);
        assert_eq!(detect(b"{\"a\"", Some("a.log.gz")), Compression::None);
        assert_eq!(detect(b"\x1f", Some("a.log.gz")), Compression::Gzip);
        assert_eq!(detect(b"\x28\xb5", Some("a.ZST")), Compression::Zstd);
        assert_eq!(detect(b"", Some("a.gz")), Compression::None);
        assert_eq!(detect(&[0x5e, 0x2a, 0x4d, 0x18], None), Compression::Zstd);
    }

    #[test]
    fn bounded_decompression() {
        let body = b"{\"a\":1}\n".repeat(1000);
        let g = gz(&body);
        assert_eq!(
            decompress_bounded(&g, Compression::Gzip, body.len()).unwrap(),
            body
        );
        assert!(matches!(
            decompress_bounded(&g, Compression::Gzip, body.len() - 1),
            Err(DecompressError::TooLarge { .. })
        ));
        let z = zstd::encode_all(&body[..], 3).unwrap();
        assert_eq!(
            decompress_bounded(&z, Compression::Zstd, 1 << 20).unwrap(),
            body
        );
        assert!(matches!(
            decompress_bounded(&z[..z.len() - 3], Compression::Zstd, 1 << 20),
            Err(DecompressError::Corrupt(_))
        ));
        assert!(matches!(
            decompress_bounded(&g[..g.len() - 3], Compression::Gzip, 1 << 20),
            Err(DecompressError::Corrupt(_))
        ));
        assert!(matches!(
            decompress_bounded(&body, Compression::None, 10),
            Err(DecompressError::TooLarge { limit: 10 })
        ));
    }
}
