//! Every provider stream under `fixtures/{anthropic,gemini}/`, fed whole and in random-sized
//! pieces through the SSE decoder and a translator, against its `.expected.json`: the chunks
//! are read by `sluice_openai::inspect` as the relay reads them (content seen, finish, usage)
//! and assemble to the expected answer.

mod common;

use std::path::Path;

use common::{assemble, pieces, run, Kind};
use serde_json::Value;

fn fixtures(dir: &str) -> Vec<(String, Vec<u8>, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(dir);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".sse").map(str::to_owned))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let sse = std::fs::read(dir.join(format!("{name}.sse"))).unwrap();
            let expected = std::fs::read(dir.join(format!("{name}.expected.json")))
                .unwrap_or_else(|e| panic!("{name}.expected.json: {e}"));
            (name, sse, serde_json::from_slice(&expected).unwrap())
        })
        .collect()
}

fn check(kind: Kind, dir: &str, at_least: usize) {
    let all = fixtures(dir);
    assert!(all.len() >= at_least, "{dir}: {} fixtures", all.len());
    for (name, sse, expected) in all {
        let whole = run(kind, &sse, || usize::MAX);
        let mut got = assemble(&whole.chunks);
        got["error"] = whole.error.clone().unwrap_or(Value::Null);
        got["done"] = whole.done.into();
        got["alive"] = whole.alive.into();
        assert_eq!(got, expected, "{dir}/{name}");
        assert!(!whole.truncated, "{dir}/{name}");
        for seed in 1..=48 {
            let max = [1, 2, 7, 64, 512][seed as usize % 5];
            let split = run(kind, &sse, pieces(seed, max));
            assert_eq!(
                split, whole,
                "{dir}/{name} in pieces of up to {max} (seed {seed})"
            );
        }
    }
}

#[test]
fn anthropic_fixtures_translate_to_their_expected_answers() {
    check(Kind::Anthropic, "anthropic", 8);
}

#[test]
fn gemini_fixtures_translate_to_their_expected_answers() {
    check(Kind::Gemini, "gemini", 9);
}
