//! The shortcut for most events of a Messages stream: a `text_delta` written the way Anthropic
//! writes it (compact, keys in its order) is recognised by its bytes and its text taken as the
//! JSON string literal it is, checked but never parsed into a tree. Anything else, or anything
//! in doubt, goes the full way.

const HEAD: &[u8] = br#"{"type":"content_block_delta","index":"#;
const MIDDLE: &[u8] = br#","delta":{"type":"text_delta","text":"#;
const TAIL: &[u8] = b"}}";

/// The text of a compact `text_delta` event, as its JSON string literal (quotes included).
pub(crate) fn text_delta(data: &[u8]) -> Option<&str> {
    let rest = data.strip_prefix(HEAD)?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let literal = rest[digits..].strip_prefix(MIDDLE)?.strip_suffix(TAIL)?;
    if !string_literal(literal) {
        return None;
    }
    std::str::from_utf8(literal).ok()
}

/// Whether `s` is exactly one JSON string literal: quoted, no raw control character, no
/// unescaped quote inside, every escape one JSON allows.
pub(crate) fn string_literal(s: &[u8]) -> bool {
    let [b'"', inner @ .., b'"'] = s else {
        return false;
    };
    let mut i = 0;
    while i < inner.len() {
        match inner[i] {
            b'"' | 0..=0x1f => return false,
            b'\\' => match inner.get(i + 1) {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                Some(b'u') => {
                    let hex = inner.get(i + 2..i + 6);
                    if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                        return false;
                    }
                    // Surrogates must pair up; the full read judges them.
                    if matches!(inner[i + 2], b'd' | b'D')
                        && matches!(inner[i + 3], b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F')
                    {
                        return false;
                    }
                    i += 6;
                }
                _ => return false,
            },
            _ => i += 1,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_compact_text_deltas_and_nothing_in_doubt() {
        let ok = |text: &str| {
            let data = format!(
                r#"{{"type":"content_block_delta","index":12,"delta":{{"type":"text_delta","text":{text}}}}}"#
            );
            text_delta(data.as_bytes()).map(str::to_owned)
        };
        for good in [r#""hi""#, r#""""#, r#""a\"b\\\n\u00e9 ☕""#, r#""\/""#] {
            assert_eq!(ok(good).as_deref(), Some(good));
            // What the shortcut takes, serde reads as one string.
            assert!(serde_json::from_str::<String>(good).is_ok());
        }
        for bad in [
            r#""a"b""#,
            r#""a\""#,
            r#""\x""#,
            r#""\u12""#,
            "\"tab\there\"",
            "12",
            r#""a" "#,
        ] {
            assert_eq!(ok(bad), None, "{bad}");
        }
        assert_eq!(
            text_delta(br#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x","citations":[]}}"#),
            None
        );
        assert_eq!(
            text_delta(br#"{"type":"content_block_delta","index":,"delta":{"type":"text_delta","text":"x"}}"#),
            None
        );
        // The shortcut takes nothing the full read would not.
        for literal in [
            r#""\ud83d\ude0a""#,
            r#""\ud800""#,
            r#""\udc00x""#,
            r#""\u00e9""#,
        ] {
            let full = serde_json::from_str::<&serde_json::value::RawValue>(literal).is_ok();
            assert!(full || ok(literal).is_none(), "{literal}");
        }
        assert_eq!(text_delta(b"{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"\xff\"}}"), None);
    }
}
