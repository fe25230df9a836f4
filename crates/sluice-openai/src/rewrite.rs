//! Changing one top-level key of a JSON object while every other byte stays as the provider
//! wrote it (numbers, escapes and key order included). Used on the rare chunks the gateway must
//! alter: a `usage` removed because the client did not ask for it, or replaced to add cost.

use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// Returns `payload` with top-level `key` removed (`None`) or set to `value` (raw JSON text);
/// a key that is absent is appended when set.
pub fn set_top_level(
    payload: &[u8],
    key: &str,
    value: Option<&str>,
) -> Result<Vec<u8>, serde_json::Error> {
    let entries = parse_entries(payload)?;
    let mut out = Vec::with_capacity(payload.len() + value.map_or(0, str::len));
    out.push(b'{');
    let mut first = true;
    let mut replaced = false;
    let mut write_entry = |out: &mut Vec<u8>, k: &str, v: &str| -> Result<(), serde_json::Error> {
        if !first {
            out.push(b',');
        }
        first = false;
        serde_json::to_writer(&mut *out, k)?;
        out.push(b':');
        out.extend_from_slice(v.as_bytes());
        Ok(())
    };
    for (k, v) in &entries {
        if k == key {
            if let (Some(new), false) = (value, replaced) {
                write_entry(&mut out, k, new)?;
                replaced = true;
            }
            continue;
        }
        write_entry(&mut out, k, v.get())?;
    }
    if let (Some(new), false) = (value, replaced) {
        write_entry(&mut out, key, new)?;
    }
    out.push(b'}');
    Ok(out)
}

/// The raw JSON text of top-level `key`, if present.
pub fn get_top_level(payload: &[u8], key: &str) -> Result<Option<String>, serde_json::Error> {
    Ok(parse_entries(payload)?
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.get().to_owned()))
}

fn parse_entries(payload: &[u8]) -> Result<Vec<(String, &RawValue)>, serde_json::Error> {
    struct Entries;
    impl<'de> Visitor<'de> for Entries {
        type Value = Vec<(String, &'de RawValue)>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some((k, v)) = map.next_entry::<String, &'de RawValue>()? {
                out.push((k, v));
            }
            Ok(out)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(payload);
    let entries = (&mut de).deserialize_map(Entries)?;
    de.end()?;
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(p: &str, k: &str, v: Option<&str>) -> String {
        String::from_utf8(set_top_level(p.as_bytes(), k, v).unwrap()).unwrap()
    }

    #[test]
    fn removes_a_key_keeping_everything_else_verbatim() {
        let p = r#"{"id":"a","choices":[{"logprobs":{"content":[{"logprob":-0.0025094282,"token":"Foo"}]}}],"usage":{"prompt_tokens":1},"z":"\u2019"}"#;
        assert_eq!(
            set(p, "usage", None),
            r#"{"id":"a","choices":[{"logprobs":{"content":[{"logprob":-0.0025094282,"token":"Foo"}]}}],"z":"\u2019"}"#
        );
    }

    #[test]
    fn replaces_in_place_or_appends() {
        assert_eq!(
            set(r#"{"a":1,"usage":null,"b":2}"#, "usage", Some("{\"x\":1}")),
            r#"{"a":1,"usage":{"x":1},"b":2}"#
        );
        assert_eq!(
            set(r#"{"a":1}"#, "usage", Some("3")),
            r#"{"a":1,"usage":3}"#
        );
        assert_eq!(set(r#"{}"#, "usage", None), r#"{}"#);
    }

    #[test]
    fn rejects_non_objects_and_trailing_bytes() {
        assert!(set_top_level(b"[1]", "usage", None).is_err());
        assert!(set_top_level(b"{} x", "usage", None).is_err());
    }
}
