//! A key's settings as a person gives them, as text: the flags of `sluice keys create` and
//! `update`, and the dashboard's form for a new key. Checked here into a name, an admin flag,
//! limits and an expiry, so both accept exactly the same; every problem is one line naming
//! the setting ([`SettingError`]). Pure: the caller says which currencies have a rate.

use std::str::FromStr;
use std::time::Duration;

use sluice_types::{parse_duration, Budget, BudgetWindow, Decimal, KeyLimits, DEFAULT_CURRENCY};

/// The settings as given, each as its text (`None`: not given). Named as the command's flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyFields {
    pub rpm: Option<String>,
    pub tpm: Option<String>,
    pub budget_usd: Option<String>,
    pub budget: Option<String>,
    pub currency: Option<String>,
    pub window: Option<String>,
    pub models: Option<String>,
    pub expires: Option<String>,
}

/// A setting that is not acceptable: which one (as its flag, e.g. `--rpm`) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{flag}: {problem}")]
pub struct SettingError {
    pub flag: &'static str,
    pub problem: String,
}

impl SettingError {
    /// The setting as a JSON field names it: `--budget-usd` is `budget_usd`.
    pub fn field(&self) -> String {
        self.flag.trim_start_matches('-').replace('-', "_")
    }
}

/// The word that takes a setting away in `keys update`.
const NONE: &str = "none";
/// Names longer than this are refused: a name labels a key in tables, it is not a note.
const MAX_NAME_CHARS: usize = 200;

/// Which command reads the flags: only `update` takes `none`, and only it can change the
/// window of a budget the key already has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Create,
    Update,
}

/// One setting as `update` changes it: `None` keeps it, `Some(None)` takes it away,
/// `Some(Some(v))` sets it.
pub type Edit<T> = Option<Option<T>>;

/// What the flags do to the budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BudgetEdit {
    Keep,
    Remove,
    /// A new budget. Without `--window` it keeps the window of the key's budget, or is
    /// monthly for a key that had none.
    Set {
        amount: Decimal,
        currency: String,
        window: Option<BudgetWindow>,
    },
    /// A new window for the budget the key has.
    Window(BudgetWindow),
}

/// The limits and expiry the flags ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitEdits {
    pub rpm: Edit<u32>,
    pub tpm: Edit<u64>,
    pub budget: BudgetEdit,
    pub models: Edit<Vec<String>>,
    pub expires: Edit<Duration>,
}

impl LimitEdits {
    /// Reads the flags. `rate_known(code)` says whether a USD amount can be charged in that
    /// currency (a provider bills in it): a budget in any other currency is refused.
    pub fn parse(
        args: &KeyFields,
        mode: Mode,
        rate_known: &dyn Fn(&str) -> bool,
    ) -> Result<LimitEdits, SettingError> {
        Ok(LimitEdits {
            rpm: edit("--rpm", args.rpm.as_deref(), mode, |t| {
                count("--rpm", t, "requests a minute")
            })?,
            tpm: edit("--tpm", args.tpm.as_deref(), mode, |t| {
                count("--tpm", t, "tokens a minute")
            })?,
            budget: budget(args, mode, rate_known)?,
            models: edit("--models", args.models.as_deref(), mode, models)?,
            expires: edit("--expires", args.expires.as_deref(), mode, expiry)?,
        })
    }

    /// Whether the flags change nothing.
    pub fn is_empty(&self) -> bool {
        self.rpm.is_none()
            && self.tpm.is_none()
            && self.budget == BudgetEdit::Keep
            && self.models.is_none()
            && self.expires.is_none()
    }

    /// Applies the changes to the limits and expiry of key `key_id`, an expiry counted from
    /// `now_ms`.
    pub fn apply(
        &self,
        limits: &mut KeyLimits,
        expires_ms: &mut Option<i64>,
        key_id: &str,
        now_ms: i64,
    ) -> Result<(), SettingError> {
        if let Some(rpm) = self.rpm {
            limits.rpm = rpm;
        }
        if let Some(tpm) = self.tpm {
            limits.tpm = tpm;
        }
        if let Some(models) = &self.models {
            limits.models.clone_from(models);
        }
        match &self.budget {
            BudgetEdit::Keep => {}
            BudgetEdit::Remove => limits.budget = None,
            BudgetEdit::Set {
                amount,
                currency,
                window,
            } => {
                let current = limits.budget.as_ref().map(|b| b.window);
                limits.budget = Some(Budget {
                    amount: *amount,
                    currency: currency.clone(),
                    window: window.or(current).unwrap_or_default(),
                });
            }
            BudgetEdit::Window(window) => match &mut limits.budget {
                Some(b) => b.window = *window,
                None => {
                    return Err(usage(
                        "--window",
                        format!(
                            "key {key_id} has no budget to change; give --budget-usd, or \
                             --budget with --currency"
                        ),
                    ))
                }
            },
        }
        if let Some(expires) = self.expires {
            *expires_ms = expires.map(|d| {
                let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
                now_ms.saturating_add(ms)
            });
        }
        Ok(())
    }
}

/// A key's name: trimmed, not empty, one line, at most [`MAX_NAME_CHARS`] characters.
pub fn name(text: &str) -> Result<String, SettingError> {
    let name = text.trim();
    if name.is_empty() {
        return Err(usage(
            "--name",
            "must not be empty (a name that says who uses the key)",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(usage(
            "--name",
            format!("{name:?} holds control characters"),
        ));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(usage(
            "--name",
            format!("longer than {MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(name.to_owned())
}

/// `update --admin true|false`.
pub fn admin(text: &str) -> Result<bool, SettingError> {
    match text.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(usage(
            "--admin",
            format!("expected true or false (got {other:?})"),
        )),
    }
}

/// A flag that `update` can clear with `none`; `create` refuses `none`, as leaving the flag
/// out already means no limit.
fn edit<T>(
    flag: &'static str,
    value: Option<&str>,
    mode: Mode,
    parse: impl FnOnce(&str) -> Result<T, SettingError>,
) -> Result<Edit<T>, SettingError> {
    match value.map(str::trim) {
        None => Ok(None),
        Some(NONE) if mode == Mode::Update => Ok(Some(None)),
        Some(NONE) => Err(usage(
            flag,
            "`none` takes a setting away in `keys update`; leave the flag out for none",
        )),
        Some(text) => parse(text).map(|v| Some(Some(v))),
    }
}

/// A limit per minute: a whole number, at least 1.
fn count<T: FromStr + TryFrom<u64>>(
    flag: &'static str,
    text: &str,
    what: &str,
) -> Result<T, SettingError> {
    let n: u64 = text
        .parse()
        .map_err(|_| usage(flag, format!("{text:?} is not a whole number of {what}")))?;
    if n == 0 {
        return Err(usage(flag, "must be at least 1 (got 0)"));
    }
    T::try_from(n).map_err(|_| usage(flag, format!("{text} is too large")))
}

/// `a,b`: route names, trimmed, each once, in the order given.
fn models(text: &str) -> Result<Vec<String>, SettingError> {
    let mut out: Vec<String> = Vec::new();
    for name in text.split(',').map(str::trim) {
        if name.is_empty() {
            return Err(usage(
                "--models",
                format!("an empty model name in {text:?}; expected names separated by commas"),
            ));
        }
        if !out.iter().any(|m| m == name) {
            out.push(name.to_owned());
        }
    }
    Ok(out)
}

fn expiry(text: &str) -> Result<Duration, SettingError> {
    match parse_duration(text) {
        Some(d) if !d.is_zero() => Ok(d),
        Some(_) => Err(usage(
            "--expires",
            format!("must be longer than zero (got {text:?})"),
        )),
        None => Err(usage(
            "--expires",
            format!("{text:?} is not a duration; expected e.g. 30d, 12h or 90m from now"),
        )),
    }
}

/// The budget flags: `--budget-usd B`, or `--budget AMOUNT --currency C`, with `--window`;
/// `update` also takes `--budget none` and `--window` alone.
fn budget(
    args: &KeyFields,
    mode: Mode,
    rate_known: &dyn Fn(&str) -> bool,
) -> Result<BudgetEdit, SettingError> {
    let window = args
        .window
        .as_deref()
        .map(|w| {
            BudgetWindow::parse(w).ok_or_else(|| {
                usage(
                    "--window",
                    format!("{w:?} is not a budget window; expected 1d, 7d, 30d or month"),
                )
            })
        })
        .transpose()?;
    let currency = args.currency.as_deref().map(str::trim);
    if args.budget_usd.is_some() && (args.budget.is_some() || currency.is_some()) {
        return Err(usage(
            "--budget-usd",
            "give either --budget-usd, or --budget with --currency, not both",
        ));
    }
    let (amount, currency) = match (args.budget_usd.as_deref(), args.budget.as_deref()) {
        (Some(usd), _) => (amount("--budget-usd", usd)?, DEFAULT_CURRENCY.to_owned()),
        (None, Some(b)) if b.trim() == NONE => {
            if mode == Mode::Create {
                return Err(usage(
                    "--budget",
                    "`none` takes a budget away in `keys update`; leave the flag out for none",
                ));
            }
            if currency.is_some() || window.is_some() {
                return Err(usage(
                    "--budget",
                    "`none` takes the budget away: give no --currency or --window with it",
                ));
            }
            return Ok(BudgetEdit::Remove);
        }
        (None, Some(b)) => {
            let Some(code) = currency else {
                return Err(usage(
                    "--budget",
                    "needs --currency (a three-letter code such as JPY), or use --budget-usd",
                ));
            };
            (amount("--budget", b)?, budget_currency(code, rate_known)?)
        }
        (None, None) => {
            if currency.is_some() {
                return Err(usage(
                    "--currency",
                    "goes with --budget (the budget's amount in that currency)",
                ));
            }
            return match (window, mode) {
                (None, _) => Ok(BudgetEdit::Keep),
                (Some(w), Mode::Update) => Ok(BudgetEdit::Window(w)),
                (Some(_), Mode::Create) => Err(usage(
                    "--window",
                    "goes with a budget: --budget-usd, or --budget with --currency",
                )),
            };
        }
    };
    Ok(BudgetEdit::Set {
        amount,
        currency,
        window,
    })
}

/// A budget amount: a plain decimal greater than zero, kept with the digits typed.
fn amount(flag: &'static str, text: &str) -> Result<Decimal, SettingError> {
    let text = text.trim();
    let d = Decimal::from_str(text).map_err(|_| {
        usage(
            flag,
            format!("{text:?} is not an amount; expected a decimal number such as 12.50"),
        )
    })?;
    if d <= Decimal::ZERO {
        return Err(usage(
            flag,
            format!("must be greater than zero (got {text:?})"),
        ));
    }
    Ok(d)
}

/// A budget's currency: a three-letter code that requests can be charged in.
fn budget_currency(text: &str, rate_known: &dyn Fn(&str) -> bool) -> Result<String, SettingError> {
    let code = currency_code(text).ok_or_else(|| {
        usage(
            "--currency",
            format!("{text:?} is not a currency code; expected three letters, e.g. JPY"),
        )
    })?;
    if code != DEFAULT_CURRENCY && !rate_known(&code) {
        return Err(usage(
            "--currency",
            format!(
                "no USD to {code} rate is known (no configured or built-in provider bills in \
                 {code}), so requests billed in USD cannot be charged in {code}; use --budget-usd \
                 or a currency a provider bills in"
            ),
        ));
    }
    Ok(code)
}

fn usage(flag: &'static str, problem: impl std::fmt::Display) -> SettingError {
    SettingError {
        flag,
        problem: problem.to_string(),
    }
}

/// A three-letter currency code, upper-cased (as `sluice_pricing::currency_code` reads it).
fn currency_code(text: &str) -> Option<String> {
    let code = text.trim().to_ascii_uppercase();
    (code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())).then_some(code)
}

#[cfg(test)]
mod tests {

    use super::*;

    fn args(pairs: &[(&str, &str)]) -> KeyFields {
        let get = |flag: &str| {
            pairs
                .iter()
                .find(|(f, _)| *f == flag)
                .map(|(_, v)| (*v).to_owned())
        };
        KeyFields {
            rpm: get("rpm"),
            tpm: get("tpm"),
            budget_usd: get("budget-usd"),
            budget: get("budget"),
            currency: get("currency"),
            window: get("window"),
            models: get("models"),
            expires: get("expires"),
        }
    }

    fn jpy_only(code: &str) -> bool {
        code == "JPY"
    }

    fn parse(pairs: &[(&str, &str)], mode: Mode) -> Result<LimitEdits, String> {
        LimitEdits::parse(&args(pairs), mode, &jpy_only).map_err(|e| e.to_string())
    }

    /// What a key holds that the settings change.
    struct Key {
        id: String,
        limits: KeyLimits,
        expires_ms: Option<i64>,
    }

    fn key() -> Key {
        Key {
            id: "abc".into(),
            limits: KeyLimits::default(),
            expires_ms: None,
        }
    }

    impl LimitEdits {
        fn apply_key(&self, k: &mut Key, now_ms: i64) -> Result<(), SettingError> {
            self.apply(&mut k.limits, &mut k.expires_ms, &k.id, now_ms)
        }
    }

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn create_sets_every_limit() {
        let e = parse(
            &[
                ("rpm", "60"),
                ("tpm", "100000"),
                ("budget", "1500.50"),
                ("currency", "jpy"),
                ("window", "7d"),
                ("models", " gpt-4.1, mock ,gpt-4.1"),
                ("expires", "30d"),
            ],
            Mode::Create,
        )
        .unwrap();
        let mut k = key();
        e.apply_key(&mut k, 1_000).unwrap();
        assert_eq!(k.limits.rpm, Some(60));
        assert_eq!(k.limits.tpm, Some(100_000));
        let b = k.limits.budget.unwrap();
        assert_eq!(b.amount.to_string(), "1500.50");
        assert_eq!((b.currency.as_str(), b.window), ("JPY", BudgetWindow::Week));
        assert_eq!(
            k.limits.models,
            Some(vec!["gpt-4.1".to_owned(), "mock".to_owned()])
        );
        assert_eq!(k.expires_ms, Some(1_000 + 30 * 86_400_000));
        // USD needs no rate; the window defaults to a month.
        let e = parse(&[("budget-usd", "5")], Mode::Create).unwrap();
        let mut k = key();
        e.apply_key(&mut k, 0).unwrap();
        let b = k.limits.budget.unwrap();
        assert_eq!((b.amount, b.currency.as_str()), (dec("5"), "USD"));
        assert_eq!(b.window, BudgetWindow::Month);
        assert!(parse(&[], Mode::Create).unwrap().is_empty());
    }

    #[test]
    fn bad_flags_are_one_line_naming_the_flag() {
        for (pairs, start) in [
            (&[("rpm", "0")][..], "--rpm: must be at least 1"),
            (&[("rpm", "ten")], "--rpm: \"ten\" is not a whole number"),
            (&[("rpm", "4294967296")], "--rpm: 4294967296 is too large"),
            (&[("tpm", "-1")], "--tpm: \"-1\" is not a whole number"),
            (&[("rpm", "none")], "--rpm: `none` takes"),
            (&[("budget", "5")], "--budget: needs --currency"),
            (&[("currency", "JPY")], "--currency: goes with --budget"),
            (
                &[("budget-usd", "5"), ("budget", "5"), ("currency", "JPY")],
                "--budget-usd: give either",
            ),
            (&[("budget-usd", "5"), ("currency", "JPY")], "--budget-usd"),
            (
                &[("budget-usd", "0")],
                "--budget-usd: must be greater than zero",
            ),
            (
                &[("budget-usd", "-2")],
                "--budget-usd: must be greater than zero",
            ),
            (
                &[("budget-usd", "12,50")],
                "--budget-usd: \"12,50\" is not an amount",
            ),
            (
                &[("budget", "5"), ("currency", "euro")],
                "--currency: \"euro\" is not a currency code",
            ),
            (
                &[("budget", "5"), ("currency", "EUR")],
                "--currency: no USD to EUR rate is known",
            ),
            (&[("budget-usd", "5"), ("window", "2d")], "--window: \"2d\""),
            (&[("window", "7d")], "--window: goes with a budget"),
            (&[("budget", "none")], "--budget: `none` takes"),
            (&[("models", "a,,b")], "--models: an empty model name"),
            (&[("models", "")], "--models: an empty model name"),
            (
                &[("expires", "soon")],
                "--expires: \"soon\" is not a duration",
            ),
            (&[("expires", "0s")], "--expires: must be longer than zero"),
        ] {
            let line = parse(pairs, Mode::Create).unwrap_err();
            assert!(line.starts_with(start), "{pairs:?}: {line}");
            assert!(!line.contains('\n'), "{line}");
        }
        for (pairs, start) in [
            (
                &[("budget", "none"), ("window", "7d")][..],
                "--budget: `none` takes the budget away",
            ),
            (&[("rpm", "0")], "--rpm: must be at least 1"),
        ] {
            let line = parse(pairs, Mode::Update).unwrap_err();
            assert!(line.starts_with(start), "{pairs:?}: {line}");
        }
    }

    #[test]
    fn update_changes_only_what_is_given() {
        let mut k = key();
        parse(
            &[
                ("rpm", "5"),
                ("budget-usd", "10"),
                ("window", "1d"),
                ("expires", "1h"),
            ],
            Mode::Create,
        )
        .unwrap()
        .apply_key(&mut k, 0)
        .unwrap();
        // A new amount keeps the window; a window alone keeps the amount.
        parse(&[("budget", "700"), ("currency", "JPY")], Mode::Update)
            .unwrap()
            .apply_key(&mut k, 0)
            .unwrap();
        let b = k.limits.budget.clone().unwrap();
        assert_eq!((b.amount, b.currency.as_str()), (dec("700"), "JPY"));
        assert_eq!(b.window, BudgetWindow::Day);
        parse(&[("window", "30d")], Mode::Update)
            .unwrap()
            .apply_key(&mut k, 0)
            .unwrap();
        assert_eq!(
            k.limits.budget.as_ref().unwrap().window,
            BudgetWindow::Days30
        );
        assert_eq!(k.limits.rpm, Some(5));
        assert_eq!(k.expires_ms, Some(3_600_000));
        // `none` takes each away.
        let e = parse(
            &[
                ("rpm", "none"),
                ("tpm", "none"),
                ("budget", "none"),
                ("models", "none"),
                ("expires", "none"),
            ],
            Mode::Update,
        )
        .unwrap();
        assert!(!e.is_empty());
        e.apply_key(&mut k, 0).unwrap();
        assert_eq!(k.limits, KeyLimits::default());
        assert_eq!(k.expires_ms, None);
        // A window for a key without a budget names the key.
        let err = parse(&[("window", "7d")], Mode::Update)
            .unwrap()
            .apply_key(&mut k, 0)
            .unwrap_err();
        assert!(err.to_string().contains("key abc has no budget"), "{err}");
        assert_eq!(err.field(), "window");
    }

    #[test]
    fn names_and_admin_flags() {
        assert_eq!(name("  ci runner ").ok(), Some("ci runner".to_owned()));
        for bad in ["", "   ", "a\nb"] {
            assert!(name(bad).is_err(), "{bad:?}");
        }
        assert!(name(&"x".repeat(201)).is_err());
        assert!(name(&"x".repeat(200)).is_ok());
        assert!(admin("true").unwrap());
        assert!(!admin("false").unwrap());
        assert!(admin("yes").is_err());
    }
}
