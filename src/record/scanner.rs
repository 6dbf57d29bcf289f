//! A field scanner for the common record: reads the contract's fields straight from the text and
//! steps over everything else, keeping from `messages` only what [`Chat`] needs.
//!
//! serde's derive reads every message of a chat history into a string (unescaping each one);
//! here the messages that are not kept are only stepped over. Anything unusual (an escaped key,
//! a wrong type, a duplicate field, a `\u` surrogate, bad syntax) gives `None`, and the caller
//! parses the line with serde instead, which accepts and rejects exactly as before and gives the
//! reason. So a line this scanner reads gives the same [`Raw`] serde would have given.

use std::borrow::Cow;

use super::raw::{Chat, Raw, Text};
use super::timestamp::TsMs;

/// Reads one record, or `None` when the line must take serde's path.
pub(super) fn scan(text: &str) -> Option<Raw<'_>> {
    let mut s = Scanner {
        text,
        b: text.as_bytes(),
        i: 0,
        // Compact lines have no byte below 0x20, so no string can hold one and strings are
        // searched for their end alone.
        controls: text.bytes().any(|b| b < 0x20),
    };
    let raw = s.record()?;
    s.ws();
    (s.i == s.b.len()).then_some(raw)
}

struct Scanner<'a> {
    text: &'a str,
    b: &'a [u8],
    i: usize,
    controls: bool,
}

/// The most nested arrays and objects stepped over; deeper values take serde's path.
const MAX_DEPTH: usize = 64;

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    /// Consumes `byte` after optional whitespace.
    fn eat(&mut self, byte: u8) -> Option<()> {
        self.ws();
        (self.peek()? == byte).then(|| self.i += 1)
    }

    /// After a member or element: `true` for a comma, `false` for the closing `close`.
    fn next_or_end(&mut self, close: u8) -> Option<bool> {
        self.ws();
        let b = self.peek()?;
        self.i += 1;
        match b {
            b',' => Some(true),
            _ if b == close => Some(false),
            _ => None,
        }
    }

    /// The members of an object whose `{` was consumed: calls `member` with each key (which
    /// must not hold escapes) after its colon; `member` consumes the value.
    fn object(&mut self, mut member: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            self.eat(b'"')?;
            let start = self.i;
            let end = start + memchr::memchr2(b'"', b'\\', &self.b[start..])?;
            if self.b[end] != b'"'
                || (self.controls && self.b[start..end].iter().any(|&c| c < 0x20))
            {
                return None;
            }
            self.i = end + 1;
            self.eat(b':')?;
            self.ws();
            let text = self.text;
            member(self, &text[start..end])?;
            if !self.next_or_end(b'}')? {
                return Some(());
            }
        }
    }

    fn record(&mut self) -> Option<Raw<'a>> {
        self.eat(b'{')?;
        let mut raw = Raw::default();
        let mut seen = 0u32;
        self.object(|s, key| {
            // serde refuses a field given twice; it says so.
            let mut once = |bit: u32| (seen & (1 << bit) == 0).then(|| seen |= 1 << bit);
            match key {
                "ts" => (once(0)?, raw.ts = s.time()?),
                "account_id" => (once(1)?, raw.account_id = s.text_value()?),
                "request_id" => (once(2)?, raw.request_id = s.text_value()?),
                "api_key_id" => (once(3)?, raw.api_key_id = s.text_value()?),
                "org_id" => (once(4)?, raw.org_id = s.text_value()?),
                "ip" => (once(5)?, raw.ip = s.text_value()?),
                "user_agent" => (once(6)?, raw.user_agent = s.text_value()?),
                "tls_fingerprint" => (once(7)?, raw.tls_fingerprint = s.text_value()?),
                "model" => (once(8)?, raw.model = s.text_value()?),
                "prompt" => (once(9)?, raw.prompt = s.text_value()?),
                "messages" => (once(10)?, raw.chat = s.messages()?),
                "system_prompt" => (once(11)?, raw.system_prompt = s.text_value()?),
                "conversation_id" => (once(12)?, raw.conversation_id = s.text_value()?),
                "turn" => (once(13)?, raw.turn = s.integer()?),
                "prompt_tokens" => (once(14)?, raw.prompt_tokens = s.integer()?),
                "completion_tokens" => (once(15)?, raw.completion_tokens = s.integer()?),
                "max_tokens" => (once(16)?, raw.max_tokens = s.integer()?),
                "temperature" => (once(17)?, raw.temperature = s.by_serde()?),
                "status" => (once(18)?, raw.status = s.integer()?),
                "account_created_at" => (once(19)?, raw.account_created_at = s.time()?),
                "payment_fingerprint" => (once(20)?, raw.payment_fingerprint = s.text_value()?),
                "email_domain" => (once(21)?, raw.email_domain = s.text_value()?),
                "country" => (once(22)?, raw.country = s.text_value()?),
                "asn" => (once(23)?, raw.asn = s.integer()?),
                _ => return s.skip_value(),
            };
            Some(())
        })?;
        Some(raw)
    }

    /// `null`, or a string: what serde gives an `Option<Text>`.
    fn text_value(&mut self) -> Option<Option<Text<'a>>> {
        match self.peek()? {
            b'n' => self.literal(b"null").map(|_| None),
            b'"' => self.string().map(|t| Some(Text(t))),
            _ => None,
        }
    }

    /// A string at the cursor: borrowed when it has no escapes, else checked and unescaped.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        let start = self.i + 1;
        let end = start + memchr::memchr2(b'"', b'\\', self.b.get(start..)?)?;
        if self.b[end] == b'"' {
            let body = &self.b[start..end];
            if self.controls && body.iter().any(|&c| c < 0x20) {
                return None;
            }
            self.i = end + 1;
            return Some(Cow::Borrowed(&self.text[start..end]));
        }
        self.skip_string()?;
        unescape(&self.text[start..self.i - 1]).map(Cow::Owned)
    }

    /// Steps over a string (cursor on its opening quote), checking it as serde does when it
    /// ignores one; a `\u` escape of a surrogate is left to serde, which checks pairs only in
    /// strings it reads.
    fn skip_string(&mut self) -> Option<()> {
        self.i += 1;
        loop {
            let rest = self.b.get(self.i..)?;
            let at = memchr::memchr2(b'"', b'\\', rest)?;
            if self.controls && rest[..at].iter().any(|&c| c < 0x20) {
                return None;
            }
            self.i += at + 1;
            if rest[at] == b'"' {
                return Some(());
            }
            match self.peek()? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 1,
                b'u' => {
                    let code = self.hex_escape()?;
                    // A pair of surrogates is one character; a lone one is left to serde.
                    if (0xD800..0xDC00).contains(&code) {
                        self.literal(b"\\")?;
                        if !(0xDC00..0xE000).contains(&self.hex_escape()?) {
                            return None;
                        }
                    } else if (0xDC00..0xE000).contains(&code) {
                        return None;
                    }
                }
                _ => return None,
            }
        }
    }

    /// The four hex digits after a `u` at the cursor, consumed with it.
    fn hex_escape(&mut self) -> Option<u16> {
        let hex = self.b.get(self.i + 1..self.i + 5)?;
        if self.b[self.i] != b'u' || !hex.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        self.i += 5;
        u16::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.i + word.len();
        (self.b.get(self.i..end)? == word).then(|| self.i = end)
    }

    /// Steps over a number as JSON writes it.
    fn skip_number(&mut self) -> Option<()> {
        let digits = |s: &mut Self| {
            let from = s.i;
            while let Some(b'0'..=b'9') = s.peek() {
                s.i += 1;
            }
            (s.i > from).then_some(())
        };
        if self.peek()? == b'-' {
            self.i += 1;
        }
        if self.peek()? == b'0' {
            self.i += 1;
        } else {
            digits(self)?;
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            digits(self)?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            digits(self)?;
        }
        Some(())
    }

    /// Steps over any value, checking its syntax as serde does when it ignores one.
    fn skip_value(&mut self) -> Option<()> {
        let mut open = Vec::new();
        loop {
            self.ws();
            match self.peek()? {
                b'"' => self.skip_string()?,
                b'n' => self.literal(b"null")?,
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'-' | b'0'..=b'9' => self.skip_number()?,
                c @ (b'[' | b'{') => {
                    self.i += 1;
                    if open.len() == MAX_DEPTH {
                        return None;
                    }
                    self.ws();
                    let close = if c == b'[' { b']' } else { b'}' };
                    if self.peek()? == close {
                        self.i += 1;
                    } else {
                        open.push(close);
                        if close == b'}' {
                            self.member_key()?;
                        }
                        continue;
                    }
                }
                _ => return None,
            }
            // A value ended: close what it ended, or go on to the next element or member.
            loop {
                let Some(&close) = open.last() else {
                    return Some(());
                };
                if self.next_or_end(close)? {
                    if close == b'}' {
                        self.member_key()?;
                    }
                    break;
                }
                open.pop();
            }
        }
    }

    /// A key and its colon, inside an object being stepped over.
    fn member_key(&mut self) -> Option<()> {
        self.ws();
        if self.peek()? != b'"' {
            return None;
        }
        self.skip_string()?;
        self.eat(b':')
    }

    /// The text of the value at the cursor, stepped over.
    fn value_span(&mut self) -> Option<&'a str> {
        let from = self.i;
        self.skip_value()?;
        Some(&self.text[from..self.i])
    }

    /// A value read by serde from its own text: the same result as in the whole record.
    fn by_serde<T: serde::Deserialize<'a>>(&mut self) -> Option<T> {
        serde_json::from_str(self.value_span()?).ok()
    }

    /// A plain unsigned integer read here; any other number, or a value of another type, is
    /// read by serde from its text (which refuses what it refuses in the record).
    fn integer<T: TryFrom<u64> + serde::Deserialize<'a>>(&mut self) -> Option<Option<T>> {
        let from = self.i;
        let mut n = 0u64;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
            self.i += 1;
        }
        let plain = self.i > from
            && !(self.b[from] == b'0' && self.i - from > 1)
            && !matches!(self.peek(), Some(b'.' | b'e' | b'E'));
        if plain {
            return T::try_from(n).ok().map(Some);
        }
        self.i = from;
        self.by_serde()
    }

    /// `ts` or `account_created_at`: an RFC 3339 string without escapes read here, anything
    /// else by serde.
    fn time(&mut self) -> Option<Option<TsMs>> {
        if self.peek()? == b'"' {
            let from = self.i;
            if let Cow::Borrowed(text) = self.string()? {
                return TsMs::from_text(text).ok().map(Some);
            }
            self.i = from;
        }
        self.by_serde()
    }

    /// `messages`: `null`, or an array of message objects, folded into a [`Chat`]. A message's
    /// content is read only when the chat keeps it; the others are checked and stepped over.
    fn messages(&mut self) -> Option<Option<Chat<'a>>> {
        match self.peek()? {
            b'n' => return self.literal(b"null").map(|_| None),
            b'[' => self.i += 1,
            _ => return None,
        }
        let mut chat = Chat::default();
        self.ws();
        if self.peek()? == b']' {
            self.i += 1;
            return Some(Some(chat));
        }
        loop {
            self.eat(b'{')?;
            let mut role = None;
            let mut content = None;
            self.object(|s, key| match key {
                "role" if role.is_none() => {
                    role = Some(s.text_value()?);
                    Some(())
                }
                "content" if content.is_none() => {
                    content = Some(s.i);
                    s.content(false).map(drop)
                }
                "role" | "content" => None,
                _ => s.skip_value(),
            })?;
            let role = role.flatten();
            let role = role.as_ref().map(|r| r.0.as_ref());
            if chat.wants(role) {
                let text = match content {
                    Some(at) => {
                        let end = self.i;
                        self.i = at;
                        let text = self.content(true)?;
                        self.i = end;
                        text
                    }
                    None => None,
                };
                chat.note(role, text);
            } else {
                chat.note(role, None);
            }
            if !self.next_or_end(b']')? {
                return Some(Some(chat));
            }
        }
    }

    /// A message's content: a string, `null`, or an array of parts whose `text` strings are
    /// joined by newlines. With `read` false it is only checked and stepped over.
    fn content(&mut self, read: bool) -> Option<Option<Cow<'a, str>>> {
        match self.peek()? {
            b'n' => return self.literal(b"null").map(|_| None),
            b'"' if read => return self.string().map(Some),
            b'"' => return self.skip_string().map(|_| None),
            b'[' => self.i += 1,
            _ => return None,
        }
        let mut joined: Option<String> = None;
        self.ws();
        if self.peek()? == b']' {
            self.i += 1;
            return Some(None);
        }
        loop {
            self.eat(b'{')?;
            let mut text = None;
            self.object(|s, key| match key {
                "text" if text.is_none() => {
                    text = Some(if read {
                        s.text_value()?
                    } else {
                        s.text_value_skipped()?;
                        None
                    });
                    Some(())
                }
                "text" => None,
                _ => s.skip_value(),
            })?;
            if let Some(Some(Text(t))) = text {
                match &mut joined {
                    Some(j) => {
                        j.push('\n');
                        j.push_str(&t);
                    }
                    None => joined = Some(t.into_owned()),
                }
            }
            if !self.next_or_end(b']')? {
                return Some(joined.map(Cow::Owned));
            }
        }
    }

    /// Checks and steps over what [`Scanner::text_value`] would read.
    fn text_value_skipped(&mut self) -> Option<()> {
        match self.peek()? {
            b'n' => self.literal(b"null"),
            b'"' => self.skip_string(),
            _ => None,
        }
    }
}

/// The text of a string's body whose escapes [`Scanner::skip_string`] has checked: surrogates
/// come in pairs.
fn unescape(body: &str) -> Option<String> {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    let hex = |s: &str| u16::from_str_radix(s.get(..4)?, 16).ok();
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let escape = *rest.as_bytes().get(at + 1)?;
        rest = &rest[at + 2..];
        out.push(match escape {
            b'n' => '\n',
            b't' => '\t',
            b'r' => '\r',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'u' => {
                let code = hex(rest)?;
                rest = &rest[4..];
                if (0xD800..0xDC00).contains(&code) {
                    let low = hex(rest.strip_prefix("\\u")?)?;
                    rest = &rest[6..];
                    let c =
                        0x1_0000 + ((u32::from(code) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
                    char::from_u32(c)?
                } else {
                    char::from_u32(u32::from(code))?
                }
            }
            other => char::from(other),
        });
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::{Scanner, scan};
    use crate::record::raw::{by_serde, parse};

    fn sample_lines() -> Vec<String> {
        let mut text = String::new();
        let file = std::fs::File::open("fixtures/sample.ndjson.gz").expect("the bundled sample");
        flate2::read::GzDecoder::new(file)
            .read_to_string(&mut text)
            .expect("gzip text");
        text.lines().map(str::to_owned).collect()
    }

    /// Records in shapes the simulator does not write: escapes, parts, nesting, odd numbers.
    const ODD: &[&str] = &[
        r#"{"ts":1772366400.25,"account_id":"a\u00e9\"b","prompt":"tab\there \ud83d\ude00","x":{"y":[1,-2.5e3,true,null,{"z":"w"}],"q":[]},"turn":3}"#,
        r#" { "ts" : "2026-03-01T12:00:00+02:00" , "account_id" : "a" , "messages" : [ {"role":"system","content":null}, {"role":"developer","content":[{"type":"text","text":"dev"},{"text":null}]}, {"content":"no role"}, {"role":"user","content":[{"type":"text","text":"one"},{"type":"image_url","image_url":{"url":"x"}},{"type":"text","text":"two\nlines"}]}, {"role":"assistant","content":"ok","tool_calls":[{"id":"1"}]}, {"role":"user","content":"last \"one\""} ] } "#,
        r#"{"ts":"1772366400","account_id":"a","messages":[],"status":429,"asn":0,"prompt_tokens":0,"temperature":1,"max_tokens":18446744073709551615}"#,
        r#"{"ts":1772366400,"account_id":"a","messages":[{"role":"user","content":"x"},{"role":"user"}],"account_created_at":"2026-03-01T12:00:00.5Z"}"#,
        "{\"ts\":1772366400,\n\t\"account_id\":\"a\",\r\n\"prompt\":\"p\"\n}",
        r#"{"ts":1772366400,"account_id":"a","ip":"::1","org_id":null,"model":"m","email_domain":"","country":"DE"}"#,
        r#"{}"#,
    ];

    #[test]
    fn reads_every_sample_record_as_serde_does() {
        for line in sample_lines() {
            assert!(scan(&line).is_some(), "not read by the scanner: {line}");
            assert_eq!(parse(line.as_bytes()), by_serde(line.as_bytes()), "{line}");
        }
        for line in ODD {
            assert!(scan(line).is_some(), "not read by the scanner: {line}");
            assert_eq!(parse(line.as_bytes()), by_serde(line.as_bytes()), "{line}");
        }
    }

    #[test]
    fn escapes_read_as_serde_reads_them() {
        for quoted in [
            r#""a\nb\tc\rd\be\ff\"g\\h\/i""#,
            r#""\u00e9\u4e2d\ud83d\ude00\u0000 end""#,
            r#""caf\u00E9 \uD834\uDD1E""#,
        ] {
            let mut s = Scanner {
                text: quoted,
                b: quoted.as_bytes(),
                i: 0,
                controls: false,
            };
            let want: String = serde_json::from_str(quoted).unwrap();
            assert_eq!(s.string().as_deref(), Some(want.as_str()), "{quoted}");
            assert_eq!(s.i, quoted.len());
        }
    }

    #[test]
    fn unusual_lines_are_left_to_serde() {
        for line in [
            r#"{"ts":1772366400,"account_id":"a","ts":1772366400}"#,
            r#"{"ts":1772366400,"account_id":"a","account_id":null}"#,
            r#"{"ts":1772366400,"\u0061ccount_id":"a"}"#,
            r#"{"ts":1772366400,"account_id":"a","prompt":"\ud83d"}"#,
            r#"{"ts":1772366400,"account_id":"a","x":"\udc00"}"#,
            r#"{"ts":1772366400,"account_id":"a","x":"\ud83d\u0041"}"#,
            r#"{"ts":1772366400,"account_id":"a","x":"\u+123"}"#,
            r#"{"ts":1772366400,"account_id":"a","messages":[["user","hi"]]}"#,
            r#"{"ts":1772366400,"account_id":"a","messages":[{"role":"user","content":[["hi"]]}]}"#,
            r#"{"ts":1772366400,"account_id":"a","messages":[{"role":"user","role":"user"}]}"#,
            r#"{"ts":1772366400,"account_id":"a","turn":1.0}"#,
            r#"{"ts":1772366400,"account_id":"a","turn":-1}"#,
            r#"{"ts":1772366400,"account_id":"a","status":70000}"#,
            r#"{"ts":1772366400,"account_id":"a","x":01}"#,
            r#"{"ts":1772366400,"account_id":"a","x":[1,]}"#,
            r#"{"ts":1772366400,"account_id":"a",}"#,
            r#"{"ts":1772366400,"account_id":"a"} x"#,
            "{\"ts\":1772366400,\"account_id\":\"a\",\"x\":\"raw\ttab\"}",
            "\x0c{\"ts\":1772366400,\"account_id\":\"a\"}",
        ] {
            assert!(scan(line).is_none(), "read by the scanner: {line}");
            assert_eq!(parse(line.as_bytes()), by_serde(line.as_bytes()), "{line}");
        }
        let deep = format!(
            r#"{{"ts":1772366400,"account_id":"a","x":{}{}}}"#,
            "[".repeat(100),
            "]".repeat(100)
        );
        assert!(scan(&deep).is_none());
        assert_eq!(parse(deep.as_bytes()), by_serde(deep.as_bytes()));
    }

    /// Damaged records (bytes dropped, inserted, replaced, repeated) parse to the same record or
    /// the same reason as with serde alone, whichever path they take.
    #[test]
    fn damaged_records_parse_as_with_serde() {
        const BYTES: &[u8] = b"{}[],:\"\\ \t\n0123456789-+.eEnulltruefalse\x01\xc3\xa9u";
        let mut lines = sample_lines();
        lines.truncate(600);
        lines.extend(ODD.iter().map(|s| s.to_string()));
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let (mut scanned, mut total) = (0, 0);
        for line in &lines {
            for _ in 0..40 {
                let mut b = line.as_bytes().to_vec();
                for _ in 0..rng.random_range(1..=3) {
                    let at = rng.random_range(0..=b.len());
                    match rng.random_range(0..4) {
                        0 if at < b.len() => {
                            b.remove(at);
                        }
                        1 => b.insert(at, BYTES[rng.random_range(0..BYTES.len())]),
                        2 if at < b.len() => b[at] = BYTES[rng.random_range(0..BYTES.len())],
                        _ => {
                            let end = (at + rng.random_range(1..40)).min(b.len());
                            let piece = b[at..end].to_vec();
                            b.splice(at..at, piece);
                        }
                    }
                }
                total += 1;
                scanned += usize::from(std::str::from_utf8(&b).is_ok_and(|t| scan(t).is_some()));
                assert_eq!(parse(&b), by_serde(&b), "{}", String::from_utf8_lossy(&b));
            }
        }
        // Most damage leaves valid JSON (inside a string, say): the scanner must have read many.
        assert!(scanned * 4 > total, "{scanned} of {total} scanned");
    }
}
