//! What the gateway reads from providers and clients never panics, whatever the bytes: chunk
//! inspection, text extraction, byte-exact rewrites and usage pricing on arbitrary bytes and on
//! mutated real chunks (`fixtures/sse/`), and the request reader on arbitrary bytes and on
//! mutated valid requests, which also keeps every field it does not rewrite byte for byte.
//!
//! These are property tests run briefly with a fixed seed, so CI is quick and repeatable;
//! `SLUICE_FUZZ_CASES=N` runs N cases each from a new seed instead, printed with a failure
//! (`SLUICE_FUZZ_SEED` replays it).

use std::fmt;
use std::path::Path;
use std::sync::OnceLock;

use bytes::Bytes;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::RngSeed;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;
use sluice_openai::pricing::{price_usage_in_chunk, PricedUsage};
use sluice_openai::rewrite::{get_top_level, set_top_level};
use sluice_openai::{chunk, ChatRequest, Usage};
use sluice_sse::{Decoder, Frame};

fn fuzz_config(cases: u32) -> ProptestConfig {
    let env = |name| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let (cases, seed) = match env("SLUICE_FUZZ_CASES") {
        Some(long) => {
            let seed = env("SLUICE_FUZZ_SEED").unwrap_or_else(|| {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
                now.map_or(0, |d| d.as_nanos() as u64)
            });
            // Shown with a failure, so the run can be replayed.
            eprintln!("{long} cases from seed {seed} (SLUICE_FUZZ_SEED={seed} replays them)");
            (u32::try_from(long).unwrap_or(u32::MAX), seed)
        }
        None => (cases, 0x51CE),
    };
    ProptestConfig {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        // A failure is replayed from its seed; no regression files in the source tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------------

/// Every JSON payload of every recorded stream.
fn fixture_chunks() -> &'static [Vec<u8>] {
    static CHUNKS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    CHUNKS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/sse");
        let mut chunks = Vec::new();
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "sse"))
            .collect();
        files.sort();
        for path in files {
            let mut dec = Decoder::new();
            dec.push(&std::fs::read(&path).unwrap());
            while let Some(frame) = dec.next_frame().unwrap() {
                if let Frame::Event(ev) = frame {
                    if ev.data.starts_with(b"{") {
                        chunks.push(ev.data.to_vec());
                    }
                }
            }
        }
        assert!(chunks.len() > 500, "{} chunks", chunks.len());
        chunks
    })
}

/// Text that often breaks JSON readers, spliced into otherwise valid payloads.
const TOKENS: &[&str] = &[
    "null",
    "12.0",
    "\"12\"",
    "-1",
    "1e400",
    "-0.0",
    "18446744073709551616",
    "{}",
    "[]",
    "\"",
    "\\",
    ",",
    ":",
    "{",
    "}",
    "]",
    "\"\\ud800\"",
    "\"\\u0000\"",
    "\u{feff}",
    "\"usage\":",
    ",\"usage\":null",
    ",\"usage\":{\"prompt_tokens\":1.5,\"completion_tokens\":\"2\"}",
    ",\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}",
    ",\"x_groq\":{\"usage\":{\"prompt_tokens\":\"7\"}}",
    ",\"prompt_tokens_details\":{\"cached_tokens\":2,\"cache_creation_tokens\":\"3\",\"cache_creation_1h_tokens\":1.0}",
    ",\"prompt_tokens_details\":[4]",
    ",\"error\":{\"message\":\"m\"}",
    ",\"choices\":[{\"delta\":{\"content\":\"a\"},\"finish_reason\":\"stop\"}]",
    "\"choices\":null",
    "{\"tool_calls\":[{\"function\":{\"name\":1}}]}",
];

/// What providers have written, or might write, as a token count.
const COUNTS: &[&str] = &[
    "12",
    "12.0",
    "1.2e1",
    "\"12\"",
    "-1",
    "12.5",
    "null",
    "{}",
    "[1]",
    "\"\"",
    "\"x\"",
    "true",
    "-0.0",
    "1e400",
    "18446744073709551615",
    "18446744073709551616",
];

/// One edit of a byte string. Positions are taken modulo its length.
#[derive(Debug, Clone)]
enum Mutation {
    Insert(Index, u8),
    Remove(Index, usize),
    Replace(Index, u8),
    Splice(Index, Index),
    Truncate(Index),
    Repeat(Index, Index),
    /// The value after one `_tokens":` replaced by one of [`COUNTS`].
    Count(Index, Index),
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<Index>(), 1usize..8).prop_map(|(i, n)| Mutation::Remove(i, n)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Replace(i, b)),
        (any::<Index>(), any::<Index>()).prop_map(|(i, t)| Mutation::Splice(i, t)),
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::Repeat(a, b)),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::Count(a, b)),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let at = |i: &Index, len: usize| i.index(len + 1);
        match m {
            Mutation::Insert(i, b) => bytes.insert(at(i, bytes.len()), *b),
            Mutation::Remove(i, n) => {
                let start = at(i, bytes.len());
                let end = (start + n).min(bytes.len());
                bytes.drain(start..end);
            }
            Mutation::Replace(i, b) if !bytes.is_empty() => {
                let at = i.index(bytes.len());
                bytes[at] = *b;
            }
            Mutation::Replace(..) => {}
            Mutation::Splice(i, t) => {
                let token = TOKENS[t.index(TOKENS.len())].as_bytes();
                let start = at(i, bytes.len());
                bytes.splice(start..start, token.iter().copied());
            }
            Mutation::Truncate(i) => bytes.truncate(at(i, bytes.len())),
            Mutation::Repeat(a, b) => {
                let (x, y) = (at(a, bytes.len()), at(b, bytes.len()));
                let (start, end) = (x.min(y), x.max(y));
                let copy = bytes[start..end].to_vec();
                bytes.splice(end..end, copy);
            }
            Mutation::Count(which, token) => {
                const KEY: &[u8] = b"_tokens\":";
                let starts: Vec<usize> = bytes
                    .windows(KEY.len())
                    .enumerate()
                    .filter(|(_, w)| *w == KEY)
                    .map(|(i, _)| i + KEY.len())
                    .collect();
                if starts.is_empty() {
                    continue;
                }
                let start = starts[which.index(starts.len())];
                let len = value_len(&bytes[start..]);
                let token = COUNTS[token.index(COUNTS.len())].as_bytes();
                bytes.splice(start..start + len, token.iter().copied());
            }
        }
    }
    bytes
}

/// The length of the JSON value `bytes` starts with: up to the first `,`, `}` or `]` outside
/// any string, object or list (enough for the counts of recorded chunks and of [`COUNTS`]).
fn value_len(bytes: &[u8]) -> usize {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' if in_string => escaped = true,
            b'"' => in_string = !in_string,
            _ if in_string => {}
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth > 0 => depth -= 1,
            b',' | b'}' | b']' => return i,
            _ => {}
        }
    }
    bytes.len()
}

/// The recorded chunks that carry usage, at the top level or in an extension.
fn usage_chunks() -> &'static [Vec<u8>] {
    static CHUNKS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    CHUNKS.get_or_init(|| {
        let with_usage: Vec<Vec<u8>> = fixture_chunks()
            .iter()
            .filter(|c| c.windows(9).any(|w| w == b"\"usage\":{"))
            .cloned()
            .collect();
        assert!(
            with_usage.len() >= 15,
            "{} chunks with usage",
            with_usage.len()
        );
        with_usage
    })
}

/// A real chunk with a few edits (a chunk with usage, often with odd counts), or arbitrary
/// bytes.
fn arb_payload() -> impl Strategy<Value = Vec<u8>> {
    let edits = |n| proptest::collection::vec(arb_mutation(), 0..n);
    prop_oneof![
        3 => (any::<Index>(), edits(4)).prop_map(|(i, edits)| {
            let chunks = fixture_chunks();
            mutate(chunks[i.index(chunks.len())].clone(), &edits)
        }),
        3 => (any::<Index>(), any::<Index>(), any::<Index>(), edits(2)).prop_map(
            |(i, which, count, edits)| {
                let chunks = usage_chunks();
                let chunk = chunks[i.index(chunks.len())].clone();
                mutate(mutate(chunk, &[Mutation::Count(which, count)]), &edits)
            }
        ),
        1 => proptest::collection::vec(any::<u8>(), 0..200),
    ]
}

/// Whitespace as JSON writers place it.
fn ws() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just(""), Just(" "), Just("\n  "), Just("\t")]
}

/// JSON text in the forms providers and clients write it: numbers as written (`0.70`, `1e2`),
/// strings with escapes, nesting, odd whitespace.
fn arb_json() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        prop::sample::select(vec![
            "0.70",
            "1e2",
            "-0",
            "1E+3",
            "12.0",
            "1.7151e-4",
            "123456789012345678901234567890"
        ])
        .prop_map(str::to_owned),
        any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()),
        Just(r#""\u2019\n\"\\ \ud83d\ude0a""#.to_owned()),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            (proptest::collection::vec(inner.clone(), 0..5), ws())
                .prop_map(|(items, w)| format!("[{w}{}{w}]", items.join(&format!(",{w}")))),
            (
                proptest::collection::vec(("[a-z_\u{e9}]{0,6}", inner), 0..5),
                ws()
            )
                .prop_map(|(entries, w)| {
                    let entries: Vec<String> = entries
                        .iter()
                        .map(|(k, v)| format!("{}{w}:{w}{v}", serde_json::to_string(k).unwrap()))
                        .collect();
                    format!("{{{w}{}{w}}}", entries.join(","))
                }),
        ]
    })
}

/// The top-level fields the request reader interprets.
const READ_FIELDS: &[&str] = &[
    "model",
    "messages",
    "stream",
    "stream_options",
    "max_tokens",
    "max_completion_tokens",
];

/// A valid chat request: the fields the gateway reads, in valid forms, and fields it does not
/// know, in any order and layout.
fn arb_request() -> impl Strategy<Value = String> {
    let model = prop_oneof![
        "[a-zA-Z0-9./:_-]{1,20}".prop_map(|m| serde_json::to_string(&m).unwrap()),
        any::<String>()
            .prop_filter("a model is not empty", |m| !m.is_empty())
            .prop_map(|m| serde_json::to_string(&m).unwrap()),
    ];
    let message = (
        prop::sample::select(vec!["user", "system", "assistant"]),
        prop_oneof![
            any::<String>().prop_map(|t| serde_json::to_string(&t).unwrap()),
            arb_json(),
        ],
    )
        .prop_map(|(role, content)| format!(r#"{{"role":"{role}","content":{content}}}"#));
    let messages =
        proptest::collection::vec(message, 0..4).prop_map(|m| format!("[{}]", m.join(",")));
    let stream = proptest::option::of(prop::sample::select(vec!["true", "false", "null"]));
    let options = proptest::option::of(prop_oneof![
        Just("null".to_owned()),
        Just("{}".to_owned()),
        Just(r#"{"include_usage":true}"#.to_owned()),
        Just(r#"{"include_usage":false,"x":1e2}"#.to_owned()),
    ]);
    let max_tokens = proptest::option::of(arb_json());
    let unknown = proptest::collection::vec(
        (
            "[a-z_]{1,12}".prop_filter("a field the reader does not read", |k| {
                !READ_FIELDS.contains(&k.as_str())
            }),
            arb_json(),
        ),
        0..6,
    );
    (model, messages, stream, options, max_tokens, unknown, ws()).prop_flat_map(
        |(model, messages, stream, options, max_tokens, unknown, w)| {
            let mut fields = vec![
                ("model".to_owned(), model),
                ("messages".to_owned(), messages),
            ];
            fields.extend(stream.map(|s| ("stream".to_owned(), s.to_owned())));
            fields.extend(options.map(|o| ("stream_options".to_owned(), o)));
            fields.extend(max_tokens.map(|m| ("max_tokens".to_owned(), m)));
            fields.extend(unknown);
            Just(fields).prop_shuffle().prop_map(move |fields| {
                let fields: Vec<String> = fields
                    .iter()
                    .map(|(k, v)| format!("{w}\"{k}\"{w}:{w}{v}"))
                    .collect();
                format!("{{{}{w}}}", fields.join(","))
            })
        },
    )
}

/// The top-level entries of a JSON object, in order, with their raw text.
fn entries(json: &[u8]) -> Vec<(String, String)> {
    struct Entries;
    impl<'de> Visitor<'de> for Entries {
        type Value = Vec<(String, String)>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some((k, v)) = map.next_entry::<String, &'de RawValue>()? {
                out.push((k, v.get().to_owned()));
            }
            Ok(out)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(json);
    (&mut de).deserialize_map(Entries).expect("a JSON object")
}

fn priced() -> PricedUsage {
    PricedUsage {
        cost_usd: "0.00017151".into(),
        currency: "JPY".into(),
        cost_local: "0.0257265".into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Chunks
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(fuzz_config(1024))]

    /// Reading a chunk never panics, and what `inspect` says agrees with a full JSON parse of
    /// the same bytes wherever both succeed.
    #[test]
    fn chunk_readers_never_panic_and_agree_with_a_full_parse(payload in arb_payload()) {
        let summary = chunk::inspect(&payload);
        let mut text = String::new();
        let slow = chunk::append_text(&payload, &mut text);
        let _ = chunk::simple_delta(&payload);
        // Where both read the chunk, the text found in place is the text a full read finds.
        if let (Ok(s), Ok(())) = (&summary, slow) {
            let mut fast = String::new();
            s.texts.append_to(&payload, &mut fast).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&fast, &text);
        }
        let (Ok(s), Ok(Value::Object(v))) = (summary, serde_json::from_slice::<Value>(&payload))
        else {
            return Ok(());
        };
        prop_assert_eq!(s.usage_key, v.contains_key("usage"));
        prop_assert_eq!(s.error, v.get("error").is_some_and(|e| !e.is_null()));
        let n_choices = v.get("choices").and_then(Value::as_array).map_or(0, Vec::len);
        prop_assert_eq!(s.choices as usize, n_choices);
        let usage = v.get("usage").filter(|u| !u.is_null());
        prop_assert_eq!(s.usage.is_some() || s.usage_unreadable, usage.is_some());
        if let Some(u) = s.usage {
            prop_assert_eq!(u.total_tokens, u.prompt_tokens.saturating_add(u.completion_tokens));
        }
        // Plain integer counts read as they are, cache details included (absent or null
        // details, and null detail counts, are 0).
        let count = |k: &str| usage.and_then(|u| u.get(k)).and_then(Value::as_u64);
        let details = usage
            .and_then(|u| u.get("prompt_tokens_details"))
            .filter(|d| !d.is_null());
        let detail = |k: &str| details.and_then(|d| d.get(k)).filter(|v| !v.is_null());
        const DETAILS: [&str; 3] = ["cached_tokens", "cache_creation_tokens", "cache_creation_1h_tokens"];
        let details_ok = details.is_none_or(Value::is_object)
            && DETAILS.iter().all(|k| detail(k).is_none_or(Value::is_u64));
        if let (Some(p), Some(c)) = (count("prompt_tokens"), count("completion_tokens")) {
            let total_ok = usage
                .and_then(|u| u.get("total_tokens"))
                .is_none_or(Value::is_u64);
            if total_ok && details_ok {
                let n = |k: &str| detail(k).and_then(Value::as_u64).unwrap_or(0);
                let want = Usage {
                    cached_tokens: n("cached_tokens"),
                    cache_write_tokens: n("cache_creation_tokens"),
                    cache_write_1h_tokens: n("cache_creation_1h_tokens"),
                    ..Usage::counted(p, c)
                };
                prop_assert_eq!(s.usage, Some(want));
            }
        }
    }

    /// Whatever a provider writes as a token count, a real chunk with it still reads: its
    /// usage is read or reported unreadable, never a failed chunk.
    #[test]
    fn odd_counts_never_fail_a_chunk(
        i in any::<Index>(),
        counts in proptest::collection::vec((any::<Index>(), any::<Index>()), 1..4),
    ) {
        let chunks = usage_chunks();
        let edits: Vec<Mutation> = counts.into_iter().map(|(w, c)| Mutation::Count(w, c)).collect();
        let payload = mutate(chunks[i.index(chunks.len())].clone(), &edits);
        let s = chunk::inspect(&payload).map_err(|e| {
            TestCaseError::fail(format!("{e}: {}", String::from_utf8_lossy(&payload)))
        })?;
        if s.usage_key {
            prop_assert!(s.usage.is_some() != s.usage_unreadable);
        }
    }

    /// A top-level key set or removed: nothing panics, and when the rewrite succeeds every
    /// other entry keeps its bytes and the key holds exactly the new value.
    #[test]
    fn rewrites_never_panic_and_keep_other_entries(
        payload in arb_payload(),
        value in proptest::option::of(arb_json()),
        key in prop::sample::select(vec!["usage", "choices", "id", "x_new"]),
    ) {
        let _ = get_top_level(&payload, key);
        let Ok(out) = set_top_level(&payload, key, value.as_deref()) else {
            return Ok(());
        };
        let before: Vec<_> = entries(&payload).into_iter().filter(|(k, _)| k != key).collect();
        let after = entries(&out);
        let others: Vec<_> = after.iter().filter(|(k, _)| k != key).cloned().collect();
        prop_assert_eq!(others, before);
        let set: Vec<_> = after.iter().filter(|(k, _)| k == key).map(|(_, v)| v.clone()).collect();
        prop_assert_eq!(set, value.into_iter().collect::<Vec<_>>());
    }

    /// Pricing a chunk's usage never panics; a priced chunk is still one JSON object whose
    /// usage carries the gateway's cost.
    #[test]
    fn pricing_never_panics(payload in arb_payload()) {
        let Ok(out) = price_usage_in_chunk(&payload, &priced()) else {
            return Ok(());
        };
        // Only where a full parse reads the input (it refuses numbers such as `1e400`,
        // which the rewrite keeps as written).
        if out != payload && serde_json::from_slice::<Value>(&payload).is_ok() {
            let v: Value = serde_json::from_slice(&out).expect("a priced chunk is JSON");
            prop_assert!(v["usage"]["cost"].is_number());
            prop_assert_eq!(&v["usage"]["cost_local"]["currency"], "JPY");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

/// A generated request, or one with a few edits, or arbitrary bytes.
fn arb_request_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => arb_request().prop_map(String::into_bytes),
        3 => (arb_request(), proptest::collection::vec(arb_mutation(), 1..6))
            .prop_map(|(r, edits)| mutate(r.into_bytes(), &edits)),
        1 => proptest::collection::vec(any::<u8>(), 0..200),
    ]
}

proptest! {
    #![proptest_config(fuzz_config(1024))]

    /// Reading a request, estimating its prompt and writing the provider's body never panic,
    /// and a request that reads can always be written for a provider (a failure there would be
    /// the gateway's 500 for the client's mistake).
    #[test]
    fn the_request_reader_never_panics(
        body in arb_request_bytes(),
        provider_model in any::<String>(),
    ) {
        if let Ok(req) = ChatRequest::parse(Bytes::from(body)) {
            prop_assert!(!req.model.is_empty());
            prop_assert!(req.prompt_estimate() >= 3);
            if let Err(e) = req.body_for(&provider_model) {
                return Err(TestCaseError::fail(e.0));
            }
            prop_assert!(req.body_for(&req.model.clone()).is_ok());
        }
    }

    /// The provider's body is the client's, byte for byte, except the model and the
    /// `stream_options` the gateway sets: every other field keeps its place and its text.
    #[test]
    fn the_provider_body_keeps_every_other_field_byte_for_byte(
        body in arb_request(),
        provider_model in any::<String>(),
    ) {
        let req = ChatRequest::parse(Bytes::from(body.clone()))
            .map_err(|e| TestCaseError::fail(format!("{e}: {body}")))?;
        let out = req.body_for(&provider_model).expect("a valid request rewrites");
        let rewritten = |k: &str| k == "model" || k == "stream_options";
        let kept = |json: &[u8]| -> Vec<(String, String)> {
            entries(json).into_iter().filter(|(k, _)| !rewritten(k)).collect()
        };
        prop_assert_eq!(kept(&out), kept(body.as_bytes()));
        let v: Value = serde_json::from_slice(&out).expect("the provider's body is JSON");
        prop_assert_eq!(&v["model"], provider_model.as_str());
        if req.stream {
            prop_assert_eq!(&v["stream_options"]["include_usage"], true);
        } else {
            let options = |json: &[u8]| {
                entries(json).into_iter().find(|(k, _)| k == "stream_options")
            };
            prop_assert_eq!(options(&out), options(body.as_bytes()));
        }
        if provider_model == req.model && !req.stream {
            prop_assert_eq!(&out[..], body.as_bytes());
        }
    }
}
