use super::*;

fn ok(json: &str) -> Record<'_> {
    Record::parse(json.as_bytes()).unwrap_or_else(|e| panic!("{json}: {e}"))
}

fn err(json: &str) -> String {
    match Record::parse(json.as_bytes()) {
        Ok(r) => panic!("{json} parsed as {r:?}"),
        Err(e) => e.0,
    }
}

const T0: i64 = 1_772_366_400_000; // 2026-03-01T12:00:00Z

#[test]
fn rfc3339_and_unix_seconds_give_the_same_time() {
    let a = ok(r#"{"ts":"2026-03-01T12:00:00Z","account_id":"a"}"#);
    let b = ok(r#"{"ts":1772366400,"account_id":"a"}"#);
    let c = ok(r#"{"ts":1772366400.25,"account_id":"a"}"#);
    let d = ok(r#"{"ts":"2026-03-01T14:00:00+02:00","account_id":"a"}"#);
    assert_eq!(a.ts_ms, T0);
    assert_eq!(b.ts_ms, T0);
    assert_eq!(c.ts_ms, T0 + 250);
    assert_eq!(d.ts_ms, T0);
}

#[test]
fn every_field_is_read() {
    let r = ok(r#"{
        "ts": "2026-03-01T12:00:00.500Z", "account_id": "acct-1", "request_id": "r1",
        "api_key_id": "k1", "org_id": "o1", "ip": "203.0.113.7", "user_agent": "ua/1",
        "tls_fingerprint": "ja3", "model": "m-large", "prompt": "hello",
        "system_prompt": "be brief", "conversation_id": "c1", "turn": 3,
        "prompt_tokens": 10, "completion_tokens": 200, "max_tokens": 4096,
        "temperature": 0.7, "status": 429, "account_created_at": 1772280000,
        "payment_fingerprint": "pf", "email_domain": "example.com", "country": "DE",
        "asn": 64500, "unknown_field": {"ignored": [1, 2]}
    }"#);
    assert_eq!(r.ts_ms, T0 + 500);
    assert_eq!(r.account_id, "acct-1");
    assert_eq!(r.request_id.as_deref(), Some("r1"));
    assert_eq!(r.api_key_id.as_deref(), Some("k1"));
    assert_eq!(r.org_id.as_deref(), Some("o1"));
    assert_eq!(r.ip, Some("203.0.113.7".parse().unwrap()));
    assert_eq!(r.user_agent.as_deref(), Some("ua/1"));
    assert_eq!(r.tls_fingerprint.as_deref(), Some("ja3"));
    assert_eq!(r.model.as_deref(), Some("m-large"));
    assert_eq!(r.prompt.as_deref(), Some("hello"));
    assert_eq!(r.system_prompt.as_deref(), Some("be brief"));
    assert_eq!(r.conversation_id.as_deref(), Some("c1"));
    assert_eq!(r.turn, Some(3));
    assert_eq!(r.prompt_tokens, Some(10));
    assert_eq!(r.completion_tokens, Some(200));
    assert_eq!(r.max_tokens, Some(4096));
    assert_eq!(r.temperature, Some(0.7));
    assert_eq!(r.status, Some(429));
    assert_eq!(r.account_created_ms, Some(1_772_280_000_000));
    assert_eq!(r.payment_fingerprint.as_deref(), Some("pf"));
    assert_eq!(r.email_domain.as_deref(), Some("example.com"));
    assert_eq!(r.country.as_deref(), Some("DE"));
    assert_eq!(r.asn, Some(64500));
}

#[test]
fn plain_strings_borrow_from_the_input() {
    let r = ok(r#"{"ts":1772366400,"account_id":"a","prompt":"no escapes here"}"#);
    assert!(matches!(r.prompt, Some(Cow::Borrowed(_))));
    let r = ok(r#"{"ts":1772366400,"account_id":"a","prompt":"line\nbreak"}"#);
    assert_eq!(r.prompt.as_deref(), Some("line\nbreak"));
}

#[test]
fn messages_give_prompt_system_prompt_and_turn() {
    let r = ok(r#"{"ts":1772366400,"account_id":"a","messages":[
        {"role":"system","content":"You are terse."},
        {"role":"user","content":"first question"},
        {"role":"assistant","content":"an answer"},
        {"role":"user","content":[{"type":"text","text":"second"},{"type":"image_url","image_url":{"url":"x"}},{"type":"text","text":"question"}]}
    ]}"#);
    assert_eq!(r.prompt.as_deref(), Some("second\nquestion"));
    assert_eq!(r.system_prompt.as_deref(), Some("You are terse."));
    assert_eq!(r.turn, Some(2));
}

#[test]
fn explicit_fields_win_over_messages() {
    let r = ok(
        r#"{"ts":1772366400,"account_id":"a","prompt":"p","system_prompt":"s","turn":7,
        "messages":[{"role":"system","content":"S"},{"role":"user","content":"P"}]}"#,
    );
    assert_eq!(r.prompt.as_deref(), Some("p"));
    assert_eq!(r.system_prompt.as_deref(), Some("s"));
    assert_eq!(r.turn, Some(7));
}

#[test]
fn empty_optional_strings_and_nulls_are_absent() {
    let r = ok(r#"{"ts":1772366400,"account_id":"a","ip":"","org_id":null,"prompt":"  "}"#);
    assert_eq!(r.ip, None);
    assert_eq!(r.org_id, None);
    assert_eq!(r.prompt, None);
}

#[test]
fn ip_with_port_and_ipv6_are_accepted() {
    let r = ok(r#"{"ts":1772366400,"account_id":"a","ip":"198.51.100.2:443"}"#);
    assert_eq!(r.ip, Some("198.51.100.2".parse().unwrap()));
    let r = ok(r#"{"ts":1772366400,"account_id":"a","ip":"2001:db8::1"}"#);
    assert_eq!(r.ip, Some("2001:db8::1".parse().unwrap()));
}

#[test]
fn bad_input_is_rejected_with_the_field_and_reason() {
    let cases: &[(&str, &[&str])] = &[
        (r#"{"ts":1772366400"#, &["invalid JSON"]),
        (r#"not json"#, &["invalid JSON"]),
        (r#"[1,2]"#, &["JSON object"]),
        (r#"{"account_id":"a"}"#, &["missing field `ts`"]),
        (r#"{"ts":1772366400}"#, &["missing field `account_id`"]),
        (
            r#"{"ts":1772366400,"account_id":""}"#,
            &["account_id", "empty"],
        ),
        (
            r#"{"ts":1772366400,"account_id":42}"#,
            &["account_id", "invalid type"],
        ),
        (
            r#"{"ts":"yesterday","account_id":"a"}"#,
            &["ts", "RFC 3339"],
        ),
        (
            r#"{"ts":1772366400000,"account_id":"a"}"#,
            &["ts", "milliseconds"],
        ),
        (r#"{"ts":true,"account_id":"a"}"#, &["ts", "invalid type"]),
        (
            r#"{"ts":1772366400,"account_id":"a","ip":"999.1.1.1"}"#,
            &["ip", "999.1.1.1"],
        ),
        (
            r#"{"ts":1772366400,"account_id":"a","turn":0}"#,
            &["turn", "1 or more"],
        ),
        (r#"{"ts":1772366400,"account_id":"a","turn":-1}"#, &["turn"]),
        (
            r#"{"ts":1772366400,"account_id":"a","prompt_tokens":-5}"#,
            &["prompt_tokens"],
        ),
        (
            r#"{"ts":1772366400,"account_id":"a","completion_tokens":"9"}"#,
            &["completion_tokens", "invalid type"],
        ),
        (
            r#"{"ts":1772366400,"account_id":"a","max_tokens":1.5}"#,
            &["max_tokens"],
        ),
        (
            r#"{"ts":1772366400,"account_id":"a","temperature":"hot"}"#,
            &["temperature"],
        ),
        (
            r#"{"ts":1772366400,"account_id":"a","temperature":-1}"#,
            &["temperature"],
        ),
        (
            r#"{"ts":1772366400,"account_id":"a","status":42}"#,
            &["status", "HTTP status"],
        ),
        (
            r#"{"ts":1772366400,"account_id":"a","asn":"AS64500"}"#,
            &["asn", "invalid type"],
        ),
        (
            r#"{"ts":1772366400,"account_id":"a","account_created_at":"soon"}"#,
            &["account_created_at"],
        ),
        (
            r#"{"ts":1772366400,"account_id":"a","messages":"hi"}"#,
            &["messages", "invalid type"],
        ),
        (
            r#"{"ts":1772366400,"account_id":"a","messages":[{"role":"user","content":5}]}"#,
            &["messages[0].content"],
        ),
        (
            r#"{"ts":1772366400,"account_id":"a","prompt":["x"]}"#,
            &["prompt", "invalid type"],
        ),
    ];
    for (json, needles) in cases {
        let e = err(json);
        for n in *needles {
            assert!(e.contains(n), "{json}: reason {e:?} lacks {n:?}");
        }
        assert!(
            !e.contains("at line 1"),
            "{json}: {e:?} repeats the position"
        );
    }
}

#[test]
fn owned_copy_keeps_every_field() {
    let json = r#"{"ts":1772366400,"account_id":"a","prompt":"p","ip":"192.0.2.1","asn":1}"#;
    let r = ok(json);
    let owned: Record<'static> = r.clone().into_owned();
    assert_eq!(owned, r);
}

/// Found by fuzzing: bad UTF-8 in an unknown field's string was skipped unchecked and the line
/// accepted, while a map or a LiteLLM reading of the same line refused it.
#[test]
fn bad_utf8_anywhere_is_rejected() {
    let mut line = br#"{"ts":1772323200,"account_id":"a","extra":"x"}"#.to_vec();
    let at = line.iter().rposition(|&b| b == b'x').unwrap();
    line[at] = 0xff;
    let e = Record::parse(&line).unwrap_err();
    assert_eq!(e.0, format!("invalid JSON: not UTF-8 at byte {at}"));
    // In a known field serde_json finds it itself.
    let mut known = br#"{"ts":1772323200,"account_id":"x"}"#.to_vec();
    let at = known.iter().rposition(|&b| b == b'x').unwrap();
    known[at] = 0xff;
    assert!(
        Record::parse(&known)
            .unwrap_err()
            .0
            .contains("invalid JSON")
    );
}
