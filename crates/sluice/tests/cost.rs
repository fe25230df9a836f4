//! `sluice cost`, black box: the seed's monthly comparison from the built-in price list, model
//! filtering, config providers with exact decimal amounts, and one-line usage errors.
//! JSON amounts are JSON numbers with exact decimal digits (`54750`, `0.9`), read here from
//! the document's text and compared as decimals.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output};
use std::str::FromStr;

use serde_json::value::RawValue;
use serde_json::Value;
use sluice_pricing::Decimal;

fn sluice(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .current_dir(dir)
        .env_remove("HOLYSHEEP_API_KEY")
        .env_remove("SLUICE_CONFIG")
        .envs(env.iter().copied())
        .output()
        .expect("run sluice")
}

fn cost(args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec!["cost"];
    all.extend(args);
    sluice(&all, dir.path(), &[])
}

fn json(out: &Output) -> Doc {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Doc::new(std::str::from_utf8(&out.stdout).expect("UTF-8 on stdout"))
}

fn row<'a>(doc: &'a Doc, provider: &str, model: &str) -> ReportRow<'a> {
    let at = doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .position(|r| r["provider"] == provider && r["model"] == model)
        .unwrap_or_else(|| panic!("no row {provider} {model} in {}", doc.text));
    ReportRow { doc, at }
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// A JSON document from stdout or HTTP: its tree for structure, and its text for amounts.
/// Amounts are JSON numbers with exact decimal digits, but `serde_json::Value` holds a
/// fractional number as an `f64` (its `Number::to_string` writes `12.50` as `12.5` and
/// `0.0000001` as `1e-7`), so amounts are read from the text, by JSON pointer.
struct Doc {
    text: String,
    tree: Value,
}

impl Doc {
    fn new(text: &str) -> Doc {
        Doc {
            text: text.to_owned(),
            tree: serde_json::from_str(text).expect("one JSON document"),
        }
    }

    /// The amount at `pointer` (`/total/cost_usd`): a JSON number, parsed from its digits.
    fn amount(&self, pointer: &str) -> Decimal {
        let text = number_text(&self.text, pointer);
        Decimal::from_str(text).unwrap_or_else(|e| panic!("{pointer}: {text}: {e}"))
    }
}

impl std::ops::Index<&str> for Doc {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        &self.tree[key]
    }
}

/// One row of a document's `rows`.
struct ReportRow<'a> {
    doc: &'a Doc,
    at: usize,
}

impl ReportRow<'_> {
    fn amount(&self, key: &str) -> Decimal {
        self.doc.amount(&format!("/rows/{}/{key}", self.at))
    }
}

impl std::ops::Index<&str> for ReportRow<'_> {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        &self.doc.tree["rows"][self.at][key]
    }
}

/// The text of a document's `rows`, exactly as written.
fn raw_rows(doc: &str) -> String {
    let fields: HashMap<String, &RawValue> = serde_json::from_str(doc).unwrap();
    fields["rows"].get().to_owned()
}

/// The text of the JSON number at `pointer` in `doc`, exactly as written.
fn number_text<'a>(doc: &'a str, pointer: &str) -> &'a str {
    let mut raw: &'a RawValue = serde_json::from_str(doc).expect("one JSON document");
    for step in pointer.split('/').skip(1) {
        raw = if raw.get().starts_with('[') {
            let items: Vec<&'a RawValue> = serde_json::from_str(raw.get()).unwrap();
            items[step.parse::<usize>().unwrap()]
        } else {
            let fields: HashMap<String, &'a RawValue> = serde_json::from_str(raw.get()).unwrap();
            fields
                .get(step)
                .copied()
                .unwrap_or_else(|| panic!("no {step} on the way to {pointer}"))
        };
    }
    let text = raw.get();
    assert!(
        text.starts_with(|c: char| c == '-' || c.is_ascii_digit()),
        "{pointer} is not a JSON number: {text}"
    );
    text
}

/// The single stderr line of a failed run.
fn error_line(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    assert_eq!(
        stderr.lines().count(),
        1,
        "expected one line, got:\n{stderr}"
    );
    stderr
}

#[test]
fn the_seeds_comparison_reproduces_with_no_config() {
    let doc = json(&cost(&["--json"]));
    // Amounts are JSON numbers, written with exactly their digits.
    assert_eq!(number_text(&doc.text, "/input_mtok"), "1000");
    assert_eq!(doc.amount("/output_mtok"), dec("500"));
    assert!(doc["input_mtok"].is_number());
    assert_eq!(doc["prices_as_of"], "2026-11-28");

    // HolySheep, DeepSeek V3.2 at 0.27 / 0.42, ¥1 = $1.
    let holysheep = row(&doc, "holysheep", "deepseek-v3.2");
    assert_eq!(holysheep.amount("usd_month"), dec("480"));
    assert_eq!(holysheep.amount("local_month"), dec("480"));
    assert_eq!(holysheep["currency"], "JPY");
    // OpenAI official, GPT-4o at 2.50 / 10.00, ¥7.3 = $1.
    let official = row(&doc, "openai", "gpt-4o");
    assert_eq!(official.amount("usd_month"), dec("7500"));
    assert_eq!(official.amount("local_month"), dec("54750"));
    assert_eq!(official["currency"], "JPY");
    // The seed's generic relay, 3.00 / 12.00, ¥6 = $1.
    let relay = row(&doc, "generic-relay", "gpt-4o");
    assert_eq!(relay.amount("usd_month"), dec("9000"));
    assert_eq!(relay.amount("local_month"), dec("54000"));

    // Cheapest first, savings against it in USD.
    assert_eq!(doc["cheapest"]["provider"], "holysheep");
    assert_eq!(doc["cheapest"]["model"], "deepseek-v3.2");
    assert_eq!(
        doc.amount("/rows/0/saving_usd_month_vs_cheapest"),
        Decimal::ZERO
    );
    assert_eq!(official.amount("saving_usd_month_vs_cheapest"), dec("7020"));
    assert_eq!(official.amount("saving_usd_year_vs_cheapest"), dec("84240"));
    let usd: Vec<Decimal> = (0..doc["rows"].as_array().unwrap().len())
        .map(|i| doc.amount(&format!("/rows/{i}/usd_month")))
        .collect();
    assert!(usd.windows(2).all(|w| w[0] <= w[1]), "{usd:?}");
    // Every built-in sheet: HolySheep, the official providers and the relay.
    for (provider, model) in [
        ("holysheep", "gpt-4.1"),
        ("holysheep", "claude-sonnet-4.5"),
        ("holysheep", "gemini-2.5-flash"),
        ("openai", "gpt-4.1"),
        ("anthropic", "claude-sonnet-4.5"),
        ("google", "gemini-2.5-flash"),
        ("deepseek", "deepseek-v3.2"),
    ] {
        assert_eq!(row(&doc, provider, model)["price_source"], "builtin");
    }
    // Anthropic's own ids for Sonnet 4.5 are priced, but not compared as models of their own.
    let rows = doc["rows"].as_array().unwrap();
    assert!(
        !rows.iter().any(|r| r["model"] == "claude-sonnet-4-5"),
        "{rows:?}"
    );
}

#[test]
fn in_yen_the_seeds_savings_reproduce() {
    let doc = json(&cost(&["--json", "--currency", "jpy"]));
    assert_eq!(doc["display_currency"], "JPY");
    // The seed: OpenAI 公式 vs HolySheep ¥54,270/月, ¥651,240/年; relay ¥53,520, ¥642,240.
    let official = row(&doc, "openai", "gpt-4o");
    assert_eq!(official.amount("display_month"), dec("54750"));
    assert_eq!(
        official.amount("saving_display_month_vs_cheapest"),
        dec("54270")
    );
    assert_eq!(
        official.amount("saving_display_year_vs_cheapest"),
        dec("651240")
    );
    let relay = row(&doc, "generic-relay", "gpt-4o");
    assert_eq!(
        relay.amount("saving_display_month_vs_cheapest"),
        dec("53520")
    );
    assert_eq!(
        relay.amount("saving_display_year_vs_cheapest"),
        dec("642240")
    );
}

#[test]
fn the_table_shows_the_same_figures() {
    let out = cost(&["--currency", "JPY"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let line = |provider: &str, model: &str| {
        text.lines()
            .find(|l| l.starts_with(provider) && l.contains(model))
            .unwrap_or_else(|| panic!("no {provider} {model} line in:\n{text}"))
            .to_owned()
    };
    let official = line("openai", "gpt-4o");
    for figure in ["7,500.00", "54,750 JPY", "54,270", "651,240"] {
        assert!(official.contains(figure), "{figure} not in {official:?}");
    }
    assert!(line("holysheep", "deepseek-v3.2").contains("480 JPY"));
    assert!(line("generic-relay", "gpt-4o").contains("54,000 JPY"));
}

#[test]
fn a_model_filter_keeps_only_that_model() {
    let doc = json(&cost(&["--json", "--model", "deepseek-v3.2"]));
    assert_eq!(doc["model"], "deepseek-v3.2");
    let rows = doc["rows"].as_array().unwrap();
    let providers: Vec<&str> = rows
        .iter()
        .map(|r| r["provider"].as_str().unwrap())
        .collect();
    assert_eq!(providers, ["holysheep", "deepseek"]);
    assert!(rows.iter().all(|r| r["model"] == "deepseek-v3.2"));
    assert_eq!(doc.amount("/rows/1/local_month"), dec("3504"));

    // Anthropic's own id for Sonnet 4.5 asks for that model, at every provider listing it.
    let doc = json(&cost(&["--json", "--model", "claude-sonnet-4-5"]));
    let rows = doc["rows"].as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(
        rows.iter().all(|r| r["model"] == "claude-sonnet-4.5"),
        "{rows:?}"
    );

    let out = cost(&["--json", "--model", "no-such-model"]);
    assert_eq!(out.status.code(), Some(2));
    let line = error_line(&out);
    assert!(
        line.contains("--model") && line.contains("no-such-model"),
        "{line}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn a_custom_workload_is_priced_exactly() {
    // One request's worth: 13 prompt + 400 completion tokens.
    let doc = json(&cost(&[
        "--json",
        "--model",
        "deepseek-v3.2",
        "--input-mtok",
        "0.000013",
        "--output-mtok",
        "0.0004",
    ]));
    // Exactly these digits, no exponent.
    let holysheep = row(&doc, "holysheep", "deepseek-v3.2");
    assert_eq!(
        number_text(&doc.text, &format!("/rows/{}/usd_month", holysheep.at)),
        "0.00017151"
    );
    assert_eq!(
        row(&doc, "deepseek", "deepseek-v3.2").amount("local_month"),
        dec("0.001252023")
    );
}

/// Prices and a rate that f64 cannot hold: 3 MTok each at 0.1 / 0.2 is 0.9 USD, but
/// 0.1 * 3 + 0.2 * 3 is 0.9000000000000001 in f64.
const EXACT_CONFIG: &str = r#"
display_currency = "EUR"

[providers.acme]
kind = "openai"
base_url = "http://127.0.0.1:9/v1"
api_key = "unused"
billing = { currency = "EUR", per_usd = 0.92 }
[providers.acme.prices]
"m-1" = { input = 0.1, output = 0.2 }

[providers.holysheep]
kind = "openai"
base_url = "https://api.holysheep.ai/v1"
api_key = "unused"
billing = { currency = "JPY", per_usd = 1.1 }
[providers.holysheep.prices]
"m-1" = { input = 0.7, output = 0.1 }
"#;

#[test]
fn config_providers_are_added_with_exact_decimal_amounts() {
    // The figures below are ones f64 gets wrong.
    let (usd_f64, in_f64, out_f64) = (0.1_f64 * 3.0 + 0.2 * 3.0, 0.7_f64 * 3.0, 0.1_f64 * 3.0);
    assert_ne!(usd_f64, 0.9);
    assert_ne!((usd_f64 * 0.92).to_string(), "0.828");
    assert_ne!(((in_f64 + out_f64) * 1.1).to_string(), "2.64");

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sluice.toml"), EXACT_CONFIG).unwrap();
    let args = [
        "cost",
        "--json",
        "--config",
        "sluice.toml",
        "--input-mtok",
        "3",
        "--output-mtok",
        "3",
    ];
    let doc = json(&sluice(&args, dir.path(), &[]));
    assert_eq!(doc["config"], "sluice.toml");
    // The config's display_currency is the default for --currency.
    assert_eq!(doc["display_currency"], "EUR");

    let acme = row(&doc, "acme", "m-1");
    assert_eq!(acme["price_source"], "config");
    assert_eq!(acme.amount("input_usd_per_mtok"), dec("0.1"));
    assert_eq!(acme.amount("output_usd_per_mtok"), dec("0.2"));
    assert_eq!(acme.amount("usd_month"), dec("0.9"));
    assert_eq!(acme.amount("local_month"), dec("0.828"));
    assert_eq!(acme["currency"], "EUR");
    assert_eq!(acme.amount("per_usd"), dec("0.92"));
    assert_eq!(acme.amount("display_month"), dec("0.828"));

    // A configured provider extends the built-in sheet of its name, at its own billing.
    let extra = row(&doc, "holysheep", "m-1");
    assert_eq!(extra.amount("usd_month"), dec("2.4"));
    assert_eq!(extra.amount("local_month"), dec("2.64"));
    assert_eq!(extra["display_month"], Value::Null);
    let builtin = row(&doc, "holysheep", "deepseek-v3.2");
    assert_eq!(builtin["price_source"], "builtin");
    assert_eq!(builtin.amount("usd_month"), dec("2.07"));
    assert_eq!(builtin.amount("local_month"), dec("2.277"));

    assert_eq!(doc["cheapest"]["provider"], "acme");
    assert_eq!(extra.amount("saving_usd_month_vs_cheapest"), dec("1.5"));
    assert_eq!(extra.amount("saving_usd_year_vs_cheapest"), dec("18"));
    // Built-in sheets are still compared.
    assert_eq!(
        row(&doc, "openai", "gpt-4o").amount("usd_month"),
        dec("37.5")
    );

    // SLUICE_CONFIG names the same file.
    let from_env = json(&sluice(
        &args[..2]
            .iter()
            .chain(&args[4..])
            .copied()
            .collect::<Vec<_>>(),
        dir.path(),
        &[("SLUICE_CONFIG", "sluice.toml")],
    ));
    assert_eq!(
        raw_rows(&from_env.text),
        raw_rows(&doc.text),
        "the same rows, digit for digit"
    );
}

#[test]
fn bad_usage_exits_2_with_one_line_naming_the_flag() {
    for (args, flag) in [
        (&["--input-mtok", "abc"][..], "--input-mtok"),
        (&["--output-mtok", "1.2.3"][..], "--output-mtok"),
        (&["--input-mtok", "-5"][..], "--input-mtok"),
        (&["--currency", "yen!"][..], "--currency"),
    ] {
        let out = cost(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let line = error_line(&out);
        assert!(line.contains(flag), "{args:?}: {line}");
        assert!(line.contains(args[1]), "{args:?}: {line}");
    }

    let dir = tempfile::tempdir().unwrap();
    let out = sluice(&["cost", "--config", "absent.toml"], dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(error_line(&out).contains("absent.toml"));
}
