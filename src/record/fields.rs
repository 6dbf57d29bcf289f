//! The contract's field names and the JSON type each expects, for inputs whose values arrive as
//! text (CSV cells, mapped fields of another schema) and must be typed before parsing.

use serde_json::{Number, Value};

/// The JSON type a contract field expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    /// RFC 3339 text or Unix seconds.
    Time,
    Integer,
    Number,
    /// A JSON array (`messages`).
    Json,
}

/// Every field of the contract's record, in the contract's order.
pub const FIELDS: &[(&str, FieldKind)] = &[
    ("ts", FieldKind::Time),
    ("account_id", FieldKind::Text),
    ("request_id", FieldKind::Text),
    ("api_key_id", FieldKind::Text),
    ("org_id", FieldKind::Text),
    ("ip", FieldKind::Text),
    ("user_agent", FieldKind::Text),
    ("tls_fingerprint", FieldKind::Text),
    ("model", FieldKind::Text),
    ("prompt", FieldKind::Text),
    ("messages", FieldKind::Json),
    ("system_prompt", FieldKind::Text),
    ("conversation_id", FieldKind::Text),
    ("turn", FieldKind::Integer),
    ("prompt_tokens", FieldKind::Integer),
    ("completion_tokens", FieldKind::Integer),
    ("max_tokens", FieldKind::Integer),
    ("temperature", FieldKind::Number),
    ("status", FieldKind::Integer),
    ("account_created_at", FieldKind::Time),
    ("payment_fingerprint", FieldKind::Text),
    ("email_domain", FieldKind::Text),
    ("country", FieldKind::Text),
    ("asn", FieldKind::Integer),
];

/// The field's kind, or `None` when the name is not a contract field.
pub fn kind_of(name: &str) -> Option<FieldKind> {
    FIELDS.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
}

/// The contract's name for `name`, as a `'static` string.
pub fn canonical(name: &str) -> Option<&'static str> {
    FIELDS.iter().find(|(n, _)| *n == name).map(|(n, _)| *n)
}

fn number(text: &str) -> Option<Number> {
    serde_json::from_str::<Number>(text.trim()).ok()
}

/// A whole number written as a float (`12.0`, as spreadsheet and dataframe exports do) becomes
/// an integer; anything else is left for the parser to judge.
fn integer(n: Number) -> Number {
    match n.as_f64() {
        Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15 => Number::from(f as i64),
        _ => n,
    }
}

/// The value a text cell stands for in a field of `kind`. Text that does not fit stays text,
/// so the parser rejects it with a reason that names the field.
pub fn typed_text(kind: FieldKind, text: &str) -> Value {
    let as_text = || Value::String(text.to_string());
    match kind {
        FieldKind::Text => as_text(),
        FieldKind::Time | FieldKind::Number => number(text).map_or_else(as_text, Value::Number),
        FieldKind::Integer => number(text).map_or_else(as_text, |n| Value::Number(integer(n))),
        FieldKind::Json => {
            let t = text.trim_start();
            if t.starts_with('[') || t.starts_with('{') {
                serde_json::from_str(text).unwrap_or_else(|_| as_text())
            } else {
                as_text()
            }
        }
    }
}

/// Appends the JSON for a text cell in a field of `kind` (`None`: not a contract field, kept as
/// text); the same values as [`typed_text`], without building them in the common cases.
pub fn write_text(kind: Option<FieldKind>, text: &str, out: &mut Vec<u8>) {
    let t = text.trim();
    let raw = match kind {
        None | Some(FieldKind::Text) => false,
        Some(FieldKind::Time | FieldKind::Number) => number(t).is_some(),
        Some(FieldKind::Integer) => number(t).is_some_and(|n| !n.is_f64()),
        // Parsed as a value, not skimmed: skimming lets through what parsing refuses (a number
        // out of range, a lone surrogate), and the record would then not be valid JSON.
        Some(FieldKind::Json) => {
            (t.starts_with('[') || t.starts_with('{')) && serde_json::from_str::<Value>(t).is_ok()
        }
    };
    let written = if raw {
        out.extend_from_slice(t.as_bytes());
        Ok(())
    } else {
        match kind {
            None | Some(FieldKind::Text) => serde_json::to_writer(&mut *out, text),
            Some(k) => serde_json::to_writer(&mut *out, &typed_text(k, text)),
        }
    };
    written.expect("writing JSON to a Vec does not fail");
}

/// Types a value taken from another schema for a field of `kind`: text is typed as
/// [`typed_text`] does, and a number in a text field (a numeric user id) becomes its text.
pub fn typed_value(kind: FieldKind, value: Value) -> Value {
    match (kind, value) {
        (FieldKind::Text, Value::Number(n)) => Value::String(n.to_string()),
        (FieldKind::Text, v) => v,
        (FieldKind::Integer, Value::Number(n)) => Value::Number(integer(n)),
        (k, Value::String(s)) => typed_text(k, &s),
        (_, v) => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_cells_are_typed_by_field() {
        assert_eq!(typed_text(FieldKind::Integer, "200"), json!(200));
        assert_eq!(typed_text(FieldKind::Integer, "12.0"), json!(12));
        assert_eq!(typed_text(FieldKind::Integer, "abc"), json!("abc"));
        assert_eq!(
            typed_text(FieldKind::Time, "1772409600.5"),
            json!(1772409600.5)
        );
        assert_eq!(
            typed_text(FieldKind::Time, "2026-03-02T00:00:00Z"),
            json!("2026-03-02T00:00:00Z")
        );
        assert_eq!(typed_text(FieldKind::Text, "42"), json!("42"));
        assert_eq!(
            typed_text(FieldKind::Json, r#"[{"role":"user","content":"hi"}]"#),
            json!([{"role": "user", "content": "hi"}])
        );
        assert_eq!(typed_text(FieldKind::Json, "[oops"), json!("[oops"));
        assert_eq!(typed_value(FieldKind::Text, json!(12345)), json!("12345"));
        assert_eq!(kind_of("asn"), Some(FieldKind::Integer));
        for (kind, cell) in [
            (Some(FieldKind::Integer), " 12.0"),
            (Some(FieldKind::Integer), "7"),
            (Some(FieldKind::Time), "1772409600.5"),
            (Some(FieldKind::Json), "[1, 2]"),
            (Some(FieldKind::Json), "[1,"),
            // Found by fuzzing: well-formed, but not a JSON value serde_json can hold.
            (Some(FieldKind::Json), "[6666e66661444444444444]"),
            (Some(FieldKind::Json), r#"["\ud800"]"#),
            (None, "say \"hi\"\n"),
        ] {
            let mut out = Vec::new();
            write_text(kind, cell, &mut out);
            let want = kind.map_or_else(|| json!(cell), |k| typed_text(k, cell));
            assert_eq!(
                serde_json::from_slice::<Value>(&out).unwrap(),
                want,
                "{cell}"
            );
        }
        assert_eq!(kind_of("user"), None);
    }
}
