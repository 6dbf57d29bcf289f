//! A record reduced for privacy mode: every field but the prompt and system prompt text, and what
//! the detector derives from that text (hashes, template keys, cue flags). It is what the service
//! stores in privacy mode, and replaying it gives the state the full record gave.

use super::Record;
use crate::features::TextFeatures;

/// First byte of a reduced record as stored. A stored contract record is JSON and starts with
/// `{`; the tag also versions the encoding. The encoding is [`Record`]'s fields in order, so a
/// change to them needs a new tag, with the old one still decoded: the log holds a window of them.
/// Tag 1 stored no near-duplicate signature; tag 2 stores it after the text features.
const TAG_V1: u8 = 0x01;
const TAG: u8 = 0x02;

/// The stored form of `rec` without its text, with the text's features.
pub fn encode(rec: &Record<'_>, text: &TextFeatures) -> Vec<u8> {
    let bare = Record {
        prompt: None,
        system_prompt: None,
        ..rec.clone()
    };
    let mut out = vec![TAG];
    postcard::to_io(&(bare, text, text.prompt_signature), &mut out)
        .expect("a reduced record serialises");
    out
}

/// The record and text features of a stored reduced record; `None` for anything else (a
/// stored contract record, or bytes that are not a reduced record).
pub fn decode(bytes: &[u8]) -> Option<(Record<'static>, TextFeatures)> {
    if let Some(rest) = bytes.strip_prefix(&[TAG_V1]) {
        return postcard::from_bytes::<(Record<'static>, TextFeatures)>(rest).ok();
    }
    let rest = bytes.strip_prefix(&[TAG])?;
    let (rec, mut text, signature) = postcard::from_bytes::<(
        Record<'static>,
        TextFeatures,
        Option<crate::features::minhash::Signature>,
    )>(rest)
    .ok()?;
    text.prompt_signature = signature;
    Some((rec, text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::Lexicon;

    #[test]
    fn keeps_every_field_but_the_text() {
        let line = br#"{"ts":"2026-03-02T10:00:00.250Z","account_id":"acct-1","request_id":"r-1","ip":"203.0.113.7","user_agent":"python-httpx/0.27","model":"m-large","messages":[{"role":"system","content":"You are SECRET-SYS."},{"role":"user","content":"Solve SECRET-PROMPT step by step, then give the answer on the last line please"}],"max_tokens":8192,"temperature":0.7,"status":200,"turn":1,"prompt_tokens":80,"completion_tokens":1500,"account_created_at":1772406000,"payment_fingerprint":"pf-9c1e","email_domain":"example.com","country":"DE","asn":64500}"#;
        let rec = Record::parse(line).unwrap();
        let text = TextFeatures::signed(&rec, &Lexicon::new());
        assert!(text.prompt.is_some() && text.system_prompt.is_some());
        let bytes = encode(&rec, &text);
        for secret in ["SECRET-SYS", "SECRET-PROMPT", "step by step"] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} is stored"
            );
        }
        let (back, text_back) = decode(&bytes).unwrap();
        assert_eq!(text_back, text);
        assert_eq!(
            back,
            Record {
                prompt: None,
                system_prompt: None,
                ..rec.into_owned()
            }
        );
        assert!(
            decode(line).is_none(),
            "a contract record is not a reduced one"
        );
        assert!(decode(&bytes[..bytes.len() / 2]).is_none());
    }

    #[test]
    fn records_stored_before_signatures_still_decode() {
        let line = br#"{"ts":1772406000,"account_id":"a","prompt":"Solve this step by step and give the answer on the last line"}"#;
        let rec = Record::parse(line).unwrap();
        let text = TextFeatures::signed(&rec, &Lexicon::new());
        assert!(text.prompt_signature.is_some());
        let bare = Record {
            prompt: None,
            ..rec.clone()
        };
        let mut old = vec![TAG_V1];
        postcard::to_io(&(bare, &text), &mut old).unwrap();
        let (_, back) = decode(&old).unwrap();
        assert_eq!(
            back,
            TextFeatures {
                prompt_signature: None,
                ..text
            }
        );
    }
}
