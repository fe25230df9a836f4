//! The deterministic token generator: a fixed vocabulary, a seed derived from the request's
//! `messages`, and a small PRNG that picks words from the vocabulary.

use serde_json::Value;

/// The vocabulary, each word stored with its leading space so that every token is a
/// `&'static str` slice of it (the first token of a completion drops the space).
/// Plain ASCII only: no quotes or backslashes, so tokens never need JSON escaping.
const VOCAB: [&str; 64] = [
    " the",
    " a",
    " stream",
    " river",
    " gate",
    " token",
    " model",
    " quick",
    " slow",
    " bright",
    " quiet",
    " water",
    " flows",
    " through",
    " every",
    " open",
    " channel",
    " and",
    " of",
    " to",
    " in",
    " on",
    " with",
    " light",
    " stone",
    " bridge",
    " signal",
    " value",
    " small",
    " large",
    " early",
    " late",
    " north",
    " south",
    " east",
    " west",
    " simple",
    " steady",
    " clear",
    " deep",
    " wide",
    " narrow",
    " path",
    " field",
    " cloud",
    " rain",
    " wind",
    " fire",
    " earth",
    " metal",
    " wood",
    " glass",
    " paper",
    " story",
    " answer",
    " question",
    " number",
    " letter",
    " word",
    " line",
    " page",
    " book",
    " world",
    " time",
];

/// The longest token in bytes, so a buffer for `n` tokens can be sized once.
pub(crate) const LONGEST_TOKEN: usize = longest(&VOCAB);

const fn longest(words: &[&str]) -> usize {
    let (mut i, mut max) = (0, 0);
    while i < words.len() {
        if words[i].len() > max {
            max = words[i].len();
        }
        i += 1;
    }
    max
}

/// The FNV-1a offset basis: the hash of no bytes.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a, 64-bit.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    fnv_extend(FNV_OFFSET, bytes)
}

/// FNV-1a 64 of what `hash` covered followed by `bytes`.
fn fnv_extend(mut hash: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The seed of a request: FNV-1a 64 over the compact serialization of its `messages` value
/// (`null` when absent), so the same conversation always yields the same completion.
pub fn seed_for(body: &Value) -> u64 {
    let messages = body.get("messages").unwrap_or(&Value::Null);
    // Serializing a `Value` into a Vec cannot fail.
    let bytes = serde_json::to_vec(messages).unwrap_or_default();
    fnv1a64(&bytes)
}

/// The completion tokens for `seed`: `n` words, the first without a leading space.
pub fn generate(seed: u64, n: usize) -> Tokens {
    Tokens {
        state: seed,
        index: 0,
        len: n,
    }
}

/// The full completion text for `seed` (the concatenation of [`generate`]).
pub fn completion_text(seed: u64, n: usize) -> String {
    generate(seed, n).collect()
}

/// Iterator over completion tokens; see [`generate`].
#[derive(Debug, Clone)]
pub struct Tokens {
    state: u64,
    index: usize,
    len: usize,
}

impl Tokens {
    /// Index of the next token to be produced (the number produced so far).
    pub fn position(&self) -> usize {
        self.index
    }
}

impl Iterator for Tokens {
    type Item = &'static str;

    fn next(&mut self) -> Option<&'static str> {
        if self.index >= self.len {
            return None;
        }
        // splitmix64
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let word = VOCAB[(z >> 58) as usize];
        let token = if self.index == 0 { &word[1..] } else { word };
        self.index += 1;
        Some(token)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.len - self.index;
        (left, Some(left))
    }
}

impl ExactSizeIterator for Tokens {}

/// Prompt token count: for each message, the whitespace-separated words of a string
/// `content` plus 4; at least 1.
pub fn prompt_tokens(body: &Value) -> u64 {
    let sum: u64 = body
        .get("messages")
        .and_then(Value::as_array)
        .map(|messages| {
            messages
                .iter()
                .map(|m| {
                    let words = m
                        .get("content")
                        .and_then(Value::as_str)
                        .map_or(0, |c| c.split_whitespace().count());
                    words as u64 + 4
                })
                .sum()
        })
        .unwrap_or(0);
    sum.max(1)
}

/// The prompt of a native request (Anthropic Messages, Gemini), read text by text: its seed
/// and its prompt token count, as the crate docs' "Seeds" say (FNV-1a 64 over each text and a
/// NUL, 0x1E after each message; each message's words plus 4, at least 1).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prompt {
    hash: u64,
    tokens: u64,
}

impl Prompt {
    pub(crate) fn new() -> Self {
        Self {
            hash: FNV_OFFSET,
            tokens: 0,
        }
    }

    /// One message (or the system prompt) made of `texts`.
    pub(crate) fn message<'a>(&mut self, texts: impl IntoIterator<Item = &'a str>) {
        self.tokens += 4;
        for text in texts {
            self.hash = fnv_extend(fnv_extend(self.hash, text.as_bytes()), &[0]);
            self.tokens += text.split_whitespace().count() as u64;
        }
        self.hash = fnv_extend(self.hash, &[0x1e]);
    }

    pub(crate) fn seed(&self) -> u64 {
        self.hash
    }

    pub(crate) fn tokens(&self) -> u64 {
        self.tokens.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn vocabulary_is_plain_ascii_with_leading_space() {
        for w in VOCAB {
            assert!(w.starts_with(' ') && w.len() > 1, "{w:?}");
            assert!(w[1..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        }
    }

    #[test]
    fn longest_token_is_the_longest_word() {
        assert_eq!(LONGEST_TOKEN, VOCAB.iter().map(|w| w.len()).max().unwrap());
        assert_eq!(LONGEST_TOKEN, " question".len());
    }

    #[test]
    fn fnv_known_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn same_seed_same_tokens_and_exact_count() {
        let a: Vec<_> = generate(42, 50).collect();
        let b: Vec<_> = generate(42, 50).collect();
        assert_eq!(a, b);
        assert_eq!(a.len(), 50);
        assert_eq!(generate(42, 50).len(), 50);
        assert!(!a[0].starts_with(' '));
        assert!(a[1..].iter().all(|t| t.starts_with(' ')));
        // A shorter run is a prefix of a longer one.
        let c: Vec<_> = generate(42, 10).collect();
        assert_eq!(&a[..10], &c[..]);
        assert_eq!(generate(7, 0).count(), 0);
    }

    #[test]
    fn different_seeds_differ_and_use_the_vocabulary() {
        assert_ne!(completion_text(1, 32), completion_text(2, 32));
        let distinct: std::collections::HashSet<_> = generate(9, 2000).map(str::trim).collect();
        assert!(distinct.len() > 48, "poor spread: {}", distinct.len());
    }

    #[test]
    fn seed_depends_only_on_messages() {
        let a = json!({"model":"mock","messages":[{"role":"user","content":"hi"}]});
        let b = json!({"model":"other","stream":true,"messages":[{"role":"user","content":"hi"}]});
        let c = json!({"model":"mock","messages":[{"role":"user","content":"hello"}]});
        assert_eq!(seed_for(&a), seed_for(&b));
        assert_ne!(seed_for(&a), seed_for(&c));
    }

    #[test]
    fn native_prompt_seed_and_tokens() {
        let read = |messages: &[&[&str]]| {
            let mut p = Prompt::new();
            for m in messages {
                p.message(m.iter().copied());
            }
            (p.seed(), p.tokens())
        };
        assert_eq!(read(&[]), (FNV_OFFSET, 1));
        let (seed, tokens) = read(&[&["be brief"], &["what is", "the  time"]]);
        assert_eq!(tokens, (2 + 4) + (4 + 4));
        assert_eq!(seed, read(&[&["be brief"], &["what is", "the  time"]]).0);
        // Where the texts and messages split is part of the seed.
        assert_ne!(seed, read(&[&["be brief"], &["what isthe  time"]]).0);
        assert_ne!(seed, read(&[&["be brief", "what is"], &["the  time"]]).0);
        assert_eq!(
            read(&[&["hi"]]).0,
            fnv1a64(b"hi\0\x1e"),
            "the documented seed"
        );
    }

    #[test]
    fn prompt_token_counting() {
        let body = json!({"messages":[
            {"role":"system","content":"be  brief"},
            {"role":"user","content":"what is\nthe time"},
            {"role":"user","content":[{"type":"text","text":"ignored"}]}
        ]});
        assert_eq!(prompt_tokens(&body), (2 + 4) + (4 + 4) + 4);
        assert_eq!(prompt_tokens(&json!({"messages":[]})), 1);
    }
}
