//! Apache Parquet: each row becomes a JSON object (nested groups and lists as JSON objects and
//! arrays, timestamps as RFC 3339), with top-level columns typed by the contract field they fill.

use parquet::basic::{LogicalType, TimeUnit};
use parquet::errors::ParquetError;
use parquet::file::reader::{ChunkReader, FileReader, SerializedFileReader};
use parquet::record::{Field, Row};
use serde_json::{Number, Value};

use crate::record::fields::{self, FieldKind};

use super::rows::RowBatcher;

/// The magic number at the start (and end) of every Parquet file.
pub const MAGIC: &[u8; 4] = b"PAR1";

struct Column {
    /// `"name":`, ready to write.
    key: Vec<u8>,
    kind: Option<FieldKind>,
    /// INT64 nanoseconds since the epoch, which the row reader leaves as plain integers.
    nanos: bool,
}

/// Reads every row into `out`; the item's line is the 1-based row number.
pub(crate) fn read_parquet<R: ChunkReader + 'static>(
    reader: R,
    out: &mut RowBatcher<'_>,
) -> Result<(), ParquetError> {
    // The parquet crate panics on some corrupt files (found by fuzzing: negative column chunk
    // offsets in the footer); a bad input must be an error for that input, not the end of the
    // scan. The rows handed out before the panic are kept, as after any error part-way.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read_rows(reader, out)))
        .unwrap_or_else(|panic| {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(ParquetError::General(format!("corrupt file: {why}")))
        })
}

fn read_rows<R: ChunkReader + 'static>(
    reader: R,
    out: &mut RowBatcher<'_>,
) -> Result<(), ParquetError> {
    let file = SerializedFileReader::new(reader)?;
    let schema = file.metadata().file_metadata().schema_descr_ptr();
    let columns: Vec<Column> = schema
        .root_schema()
        .get_fields()
        .iter()
        .map(|f| Column {
            key: {
                let mut key = serde_json::to_vec(f.name()).expect("a string serialises");
                key.push(b':');
                key
            },
            kind: fields::kind_of(f.name()),
            nanos: f.is_primitive()
                && matches!(
                    f.get_basic_info().logical_type_ref(),
                    Some(LogicalType::Timestamp(t)) if matches!(t.unit, TimeUnit::NANOS)
                ),
        })
        .collect();
    let mut number = 0u64;
    for row in file.get_row_iter(None)? {
        let row = row?;
        number += 1;
        if !out.push(number, |buf| write_row(&columns, &row, buf)) {
            break;
        }
    }
    Ok(())
}

fn write_row(columns: &[Column], row: &Row, buf: &mut Vec<u8>) {
    buf.push(b'{');
    let mut first = true;
    for (col, (_, field)) in columns.iter().zip(row.get_column_iter()) {
        let value = match field {
            Field::Long(ns) if col.nanos => timestamp(ns.div_euclid(1_000_000)),
            f => to_json(f),
        };
        if value.is_null() {
            continue;
        }
        let value = match col.kind {
            Some(kind) => fields::typed_value(kind, value),
            None => value,
        };
        if !first {
            buf.push(b',');
        }
        first = false;
        buf.extend_from_slice(&col.key);
        serde_json::to_writer(&mut *buf, &value).expect("writing JSON to a Vec does not fail");
    }
    buf.push(b'}');
}

fn timestamp(ms: i64) -> Value {
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(t) => Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        None => Value::from(ms),
    }
}

fn to_json(field: &Field) -> Value {
    match field {
        Field::Null => Value::Null,
        Field::Bool(b) => Value::Bool(*b),
        Field::Byte(v) => Value::from(*v),
        Field::Short(v) => Value::from(*v),
        Field::Int(v) => Value::from(*v),
        Field::Long(v) => Value::from(*v),
        Field::UByte(v) => Value::from(*v),
        Field::UShort(v) => Value::from(*v),
        Field::UInt(v) => Value::from(*v),
        Field::ULong(v) => Value::from(*v),
        Field::Float16(v) => float(f64::from(*v)),
        Field::Float(v) => float(f64::from(*v)),
        Field::Double(v) => float(*v),
        Field::Str(s) => Value::String(s.clone()),
        Field::Bytes(b) => Value::String(String::from_utf8_lossy(b.data()).into_owned()),
        Field::TimestampMillis(ms) => timestamp(*ms),
        Field::TimestampMicros(us) => timestamp(us.div_euclid(1000)),
        Field::Group(row) => Value::Object(
            row.get_column_iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect(),
        ),
        Field::ListInternal(list) => Value::Array(list.elements().iter().map(to_json).collect()),
        Field::MapInternal(map) => Value::Object(
            map.entries()
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        Field::Str(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        // Decimals, dates and times of day: their text, typed later when a field needs a number.
        other => Value::String(other.to_string()),
    }
}

fn float(v: f64) -> Value {
    Number::from_f64(v).map_or(Value::Null, Value::Number)
}
