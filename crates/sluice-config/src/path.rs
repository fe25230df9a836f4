//! Dotted field paths as they appear in error messages (`providers.local.timeouts.connect`).
//!
//! A key that is not a bare TOML key is quoted (`routes."gpt-4.1"`) and an array element
//! is written `[i]`, so every path can be pasted back into a TOML file's structure.

/// Appends `key` to `path`, with a `.` separator when `path` is not empty.
pub(crate) fn push_key(path: &mut String, key: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        path.push_str(key);
    } else {
        path.push('"');
        for c in key.chars() {
            if c == '"' || c == '\\' {
                path.push('\\');
            }
            path.push(c);
        }
        path.push('"');
    }
}

/// Appends an array index to `path`.
pub(crate) fn push_index(path: &mut String, index: usize) {
    path.push('[');
    path.push_str(&index.to_string());
    path.push(']');
}

/// `parent` followed by `keys`, each pushed with [`push_key`].
pub(crate) fn join(parent: &str, keys: &[&str]) -> String {
    let mut path = parent.to_owned();
    for key in keys {
        push_key(&mut path, key);
    }
    path
}

/// The path of a typed deserialisation error.
pub(crate) fn from_serde(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut res = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => push_index(&mut res, *index),
            Segment::Map { key } => push_key(&mut res, key),
            Segment::Enum { variant } => push_key(&mut res, variant),
            Segment::Unknown => push_key(&mut res, "?"),
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_keys_that_are_not_bare() {
        let mut path = String::new();
        push_key(&mut path, "routes");
        push_key(&mut path, "gpt-4.1");
        push_index(&mut path, 0);
        assert_eq!(path, r#"routes."gpt-4.1"[0]"#);
        assert_eq!(
            join("providers", &["my_local-1", "kind"]),
            "providers.my_local-1.kind"
        );
        assert_eq!(join("", &["a\"b"]), r#""a\"b""#);
    }
}
