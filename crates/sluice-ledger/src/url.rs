//! Ledger URLs: which backend, where, how a Postgres connection uses TLS, and the form of the
//! URL that is safe to show.
//!
//! - `sqlite://sluice.db` (relative to the working directory), `sqlite:///abs/path.db`
//! - `postgres://user:pass@host:5432/db?options=...` or `postgresql://...`, with libpq's
//!   `sslmode` (`disable`, `prefer`, the default, `require`, `verify-ca`, `verify-full`) and
//!   `sslrootcert` (a PEM file, or `system`). tokio-postgres knows neither the `verify-*`
//!   modes nor `sslrootcert`, so both are taken out of the URL here and handled by the TLS
//!   connector (`postgres::tls`).

use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use percent_encoding::percent_decode_str;

use crate::error::{one_line, Chain, LedgerError};

/// Where a ledger lives.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    Sqlite(PathBuf),
    Postgres(Box<PgTarget>),
}

/// A Postgres server and how to talk to it.
#[derive(Debug, Clone)]
pub(crate) struct PgTarget {
    /// Everything but TLS; its own `ssl_mode` is set to what the TLS connector needs.
    pub config: tokio_postgres::Config,
    pub ssl_mode: SslMode,
    /// The certificates a server's must chain to, when checked.
    pub roots: Roots,
}

/// libpq's `sslmode` values that the ledger supports, with libpq's meanings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SslMode {
    /// No TLS.
    Disable,
    /// TLS if the server offers it, else plain.
    Prefer,
    /// TLS, the certificate not checked (unless `sslrootcert` names a file, as in libpq).
    Require,
    /// TLS, the certificate checked against the roots, not the host name.
    VerifyCa,
    /// TLS, the certificate checked against the roots and the host name.
    VerifyFull,
}

/// Which root certificates a server's certificate is checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Roots {
    /// None given: the system's, used by `verify-ca` and `verify-full`.
    Default,
    /// `sslrootcert=system`.
    System,
    /// `sslrootcert=PATH`: the PEM certificates in this file.
    File(PathBuf),
}

/// A parsed ledger URL.
#[derive(Debug, Clone)]
pub(crate) struct LedgerUrl {
    /// The URL with any password masked: the only form that appears in errors and logs.
    pub redacted: String,
    pub target: Target,
}

const UNSUPPORTED_SSLMODE: &str =
    "unsupported sslmode (use disable, prefer, require, verify-ca or verify-full)";

/// How long a Postgres connection attempt may take unless the URL says otherwise.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) fn parse(url: &str) -> Result<LedgerUrl, LedgerError> {
    let redacted = redact(url);
    let invalid = |reason: &str| LedgerError::Url {
        url: redacted.clone(),
        reason: reason.to_owned(),
    };
    let target = if let Some(rest) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        if rest.is_empty() {
            return Err(invalid("no database file path after sqlite://"));
        }
        if rest.contains('?') {
            return Err(invalid("a sqlite ledger URL takes no parameters"));
        }
        if rest == ":memory:" {
            return Err(invalid(
                "an in-memory ledger would lose its rows at exit; give a file path",
            ));
        }
        Target::Sqlite(PathBuf::from(rest))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let tls = take_tls_params(url);
        let ssl_mode = match tls.sslmode.as_deref() {
            None | Some("prefer") => SslMode::Prefer,
            Some("disable") => SslMode::Disable,
            Some("require") => SslMode::Require,
            Some("verify-ca") => SslMode::VerifyCa,
            Some("verify-full") => SslMode::VerifyFull,
            Some(_) => return Err(invalid(UNSUPPORTED_SSLMODE)),
        };
        let roots = match tls.sslrootcert.as_deref() {
            None => Roots::Default,
            Some("system") => Roots::System,
            Some("") => return Err(invalid("sslrootcert is empty")),
            Some(path) => Roots::File(PathBuf::from(path)),
        };
        if roots == Roots::System && ssl_mode != SslMode::VerifyFull {
            // As libpq: the system's roots vouch for any name they know, so only a check of
            // the name makes them mean something.
            return Err(invalid("sslrootcert=system needs sslmode=verify-full"));
        }
        let mut config: tokio_postgres::Config = tls.rest.parse().map_err(|e| {
            let mut reason = format!("invalid Postgres URL: {}", one_line(Chain(&e)));
            scrub(&mut reason, url);
            invalid(&reason)
        })?;
        // A password holding `@` unencoded (or `/`, `?`, `#`, `&` around one) is split by the
        // parser: part of it would become a user, host or database name, and show up in
        // errors. So the password parsed must be one of those written. Refuse it otherwise,
        // without showing it.
        let spans = secret_spans(url);
        let parsed_whole = spans.iter().any(|span| {
            let written: Vec<u8> = percent_decode_str(&url[span.clone()]).collect();
            config.get_password() == Some(written.as_slice())
        });
        if !spans.is_empty() && !parsed_whole {
            return Err(invalid(
                "a password in the URL must be percent-encoded where it holds @, /, ?, # or &",
            ));
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("sluice");
        }
        // tokio-postgres only asks the server for TLS; the connector decides what to check.
        config.ssl_mode(match ssl_mode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        });
        Target::Postgres(Box::new(PgTarget {
            config,
            ssl_mode,
            roots,
        }))
    } else {
        return Err(invalid(
            "unsupported ledger URL (use sqlite://PATH, sqlite:///ABS/PATH or postgres://...)",
        ));
    };
    Ok(LedgerUrl { redacted, target })
}

/// A Postgres URL without its `sslmode` and `sslrootcert` parameters, and their values.
#[derive(Debug, PartialEq, Eq)]
struct TlsParams {
    rest: String,
    sslmode: Option<String>,
    sslrootcert: Option<String>,
}

/// Takes `sslmode` and `sslrootcert` out of a Postgres URL's query (the last of each wins, as
/// in tokio-postgres). The query starts at the first `?` after the credentials, which end at
/// the first `@` (where tokio-postgres ends them).
fn take_tls_params(url: &str) -> TlsParams {
    let after_credentials = url.find('@').map_or(0, |at| at + 1);
    let Some(q) = url[after_credentials..]
        .find('?')
        .map(|i| after_credentials + i)
    else {
        return TlsParams {
            rest: url.to_owned(),
            sslmode: None,
            sslrootcert: None,
        };
    };
    let (mut sslmode, mut sslrootcert) = (None, None);
    let mut kept = Vec::new();
    for pair in url[q + 1..].split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        match decode(key).as_str() {
            "sslmode" => sslmode = Some(decode(value)),
            "sslrootcert" => sslrootcert = Some(decode(value)),
            _ => kept.push(pair),
        }
    }
    let mut rest = url[..q].to_owned();
    if !kept.is_empty() {
        rest.push('?');
        rest.push_str(&kept.join("&"));
    }
    TlsParams {
        rest,
        sslmode,
        sslrootcert,
    }
}

/// `url` with every password masked as `***`: the password of the URL's `user:password@`
/// (whatever it holds: `@`, `:`, `/`, `?`, spaces, percent escapes; an empty one too) and the
/// value of any `password=` or `sslpassword=` parameter (URL query or libpq `key=value`
/// string, quoted or not). It works on the text, so a URL that does not parse is masked too;
/// when the text is ambiguous it masks more rather than less.
pub fn redact(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let mut pos = 0;
    for span in secret_spans(url) {
        out.push_str(&url[pos..span.start]);
        out.push_str("***");
        pos = span.end;
    }
    out.push_str(&url[pos..]);
    out
}

/// Where the passwords are in `s`, in order, not overlapping.
fn secret_spans(s: &str) -> Vec<Range<usize>> {
    let in_url = s.contains("://");
    let mut spans = password_params(s, in_url);
    spans.extend(userinfo_password(s));
    spans.sort_by_key(|r| r.start);
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(spans.len());
    for span in spans {
        match merged.last_mut() {
            Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
            _ => merged.push(span),
        }
    }
    merged
}

/// The password of `user:password@host`: from the first `:` of the user information to the
/// `@` that ends it. That `@` is the last one before the query (a password may hold `@`,
/// `/` and `:`), or, if the query has none before it, the last one at all (a password may
/// hold `?` or `#`). Without `://` (a URL that does not parse) the text from its first `:`
/// to its last `@` is masked.
fn userinfo_password(s: &str) -> Option<Range<usize>> {
    let start = s.find("://").map_or(0, |i| i + 3);
    let rest = &s[start..];
    let query = rest.find(['?', '#']).unwrap_or(rest.len());
    let at = rest[..query].rfind('@').or_else(|| rest.rfind('@'))?;
    let colon = rest[..at].find(':')?;
    Some(start + colon + 1..start + at)
}

/// The values of `password` and `sslpassword` parameters. In a URL a value runs to the next
/// `&`; in a libpq `key = value` string, to the next blank, or it is quoted.
fn password_params(s: &str, in_url: bool) -> Vec<Range<usize>> {
    const KEY: &str = "password";
    let bytes = s.as_bytes();
    let lower = s.to_ascii_lowercase();
    let blank = |b: u8| b.is_ascii_whitespace();
    let mut spans = Vec::new();
    let mut search = 0;
    while let Some(i) = lower[search..].find(KEY) {
        let key_start = search + i;
        search = key_start + KEY.len();
        let begin = if lower[..key_start].ends_with("ssl") {
            key_start - 3
        } else {
            key_start
        };
        if begin > 0 && !(matches!(bytes[begin - 1], b'?' | b'&') || blank(bytes[begin - 1])) {
            continue;
        }
        let mut j = search;
        while j < bytes.len() && blank(bytes[j]) {
            j += 1;
        }
        if bytes.get(j) != Some(&b'=') {
            continue;
        }
        j += 1;
        while !in_url && j < bytes.len() && blank(bytes[j]) {
            j += 1;
        }
        let end = if in_url {
            s[j..].find('&').map_or(s.len(), |k| j + k)
        } else if bytes.get(j) == Some(&b'\'') {
            closing_quote(bytes, j + 1)
        } else {
            s[j..].find(char::is_whitespace).map_or(s.len(), |k| j + k)
        };
        spans.push(j..end);
        search = end.max(search);
    }
    spans
}

/// Just past the quote that closes a libpq value opened before `from` (`\'` and `\\` are
/// escapes); the end of the text if it is never closed.
fn closing_quote(bytes: &[u8], from: usize) -> usize {
    let mut k = from;
    while k < bytes.len() {
        match bytes[k] {
            b'\\' => k += 2,
            b'\'' => return k + 1,
            _ => k += 1,
        }
    }
    bytes.len()
}

/// Removes the URL's passwords from an error text, should a library ever quote one: each as
/// written and percent-decoded.
pub(crate) fn scrub(text: &mut String, url: &str) {
    for span in secret_spans(url) {
        let raw = &url[span];
        let decoded = percent_decode_str(raw).decode_utf8_lossy();
        for secret in [raw, decoded.as_ref()] {
            if !secret.is_empty() && text.contains(secret) {
                *text = text.replace(secret, "***");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths() {
        let rel = parse("sqlite://sluice.db").unwrap();
        assert!(matches!(rel.target, Target::Sqlite(ref p) if p == &PathBuf::from("sluice.db")));
        let abs = parse("sqlite:///var/lib/sluice/ledger.db").unwrap();
        assert!(
            matches!(abs.target, Target::Sqlite(ref p) if p == &PathBuf::from("/var/lib/sluice/ledger.db"))
        );
        let bare = parse("sqlite:data/x.db").unwrap();
        assert!(matches!(bare.target, Target::Sqlite(ref p) if p == &PathBuf::from("data/x.db")));
        assert_eq!(rel.redacted, "sqlite://sluice.db");
    }

    #[test]
    fn bad_urls_are_one_line_errors() {
        for url in [
            "sqlite://",
            "sqlite://x.db?mode=ro",
            "sqlite::memory:",
            "mysql://root:pw@localhost/db",
            "",
        ] {
            let e = parse(url).unwrap_err();
            let text = e.to_string();
            assert!(matches!(e, LedgerError::Url { .. }), "{url}: {text}");
            assert!(!text.contains('\n'), "{text}");
            assert!(!text.contains("pw@"), "{text}");
        }
    }

    #[test]
    fn postgres_urls_parse_and_get_defaults() {
        let u = parse("postgresql://sluice:secret@db.internal:5433/ledger").unwrap();
        assert_eq!(
            u.redacted,
            "postgresql://sluice:***@db.internal:5433/ledger"
        );
        let Target::Postgres(target) = u.target else {
            panic!("not postgres")
        };
        let config = target.config;
        assert_eq!(target.ssl_mode, SslMode::Prefer, "libpq's default");
        assert_eq!(config.get_connect_timeout(), Some(&CONNECT_TIMEOUT));
        assert_eq!(config.get_application_name(), Some("sluice"));
        assert_eq!(config.get_dbname(), Some("ledger"));
    }

    #[test]
    fn redaction_masks_any_password() {
        // (input, shown): the password never shows, whatever it holds.
        let table = [
            (
                "postgres://u:p%40ss@h/db?sslmode=disable",
                "postgres://u:***@h/db?sslmode=disable",
            ),
            ("postgres://u:p@ss@h/db", "postgres://u:***@h/db"),
            ("postgres://a:b@c:d@h/db", "postgres://a:***@h/db"),
            ("postgres://u:pa:ss@h/db", "postgres://u:***@h/db"),
            ("postgres://u:pa/ss@h/db", "postgres://u:***@h/db"),
            ("postgres://u:pa/s?s@h/db?x=1", "postgres://u:***@h/db?x=1"),
            ("postgres://u:pa#ss@h/db", "postgres://u:***@h/db"),
            ("postgres://u:my secret pw@h/db", "postgres://u:***@h/db"),
            ("postgres://u:@h/db", "postgres://u:***@h/db"),
            ("postgres://:hunter2@h/db", "postgres://:***@h/db"),
            (
                "postgresql://u:hunter2@[::1]:5432/db",
                "postgresql://u:***@[::1]:5432/db",
            ),
            ("postgres://u:hunter2@h", "postgres://u:***@h"),
            // URLs that do not parse are masked all the same.
            ("postgres://u:hunter2@[bad/db", "postgres://u:***@[bad/db"),
            ("postgres:/u:hunter2@h/db", "postgres:***@h/db"),
            ("u:hunter2@h", "u:***@h"),
            ("mysql://root:hunter2@db/x", "mysql://root:***@db/x"),
            // Parameters, in a URL and in a libpq key=value string.
            (
                "postgres://h/db?user=u&password=hunter2&x=1",
                "postgres://h/db?user=u&password=***&x=1",
            ),
            (
                "postgres://h/db?password=hunt er2&x=1",
                "postgres://h/db?password=***&x=1",
            ),
            (
                "postgres://h/db?PASSWORD=hunter2",
                "postgres://h/db?PASSWORD=***",
            ),
            ("postgres://h/db?password=", "postgres://h/db?password=***"),
            (
                "postgres://h/db?sslpassword=hunter2",
                "postgres://h/db?sslpassword=***",
            ),
            (
                "host=h password=hunter2 dbname=x",
                "host=h password=*** dbname=x",
            ),
            (
                "host=h password = hunter2 dbname=x",
                "host=h password = *** dbname=x",
            ),
            (
                "host=h password='hunt er\\'2' dbname=x",
                "host=h password=*** dbname=x",
            ),
            ("host=h:1 password=p@ss dbname=x", "host=h:*** dbname=x"),
            // No password: nothing changes.
            ("postgres://u@h/db", "postgres://u@h/db"),
            ("postgres://h:5432/db", "postgres://h:5432/db"),
            (
                "postgres://h/db?application_name=a@b",
                "postgres://h/db?application_name=a@b",
            ),
            ("sqlite:///tmp/password=x.db", "sqlite:///tmp/password=x.db"),
            ("sqlite://data/x.db", "sqlite://data/x.db"),
            ("", ""),
        ];
        for (input, shown) in table {
            assert_eq!(redact(input), shown, "{input}");
        }
    }

    #[test]
    fn no_error_shows_a_password() {
        let secrets = ["hunter2", "p@ss/w:rd", "s3cr%40t", "with space"];
        for secret in secrets {
            let encoded: String = secret.replace('%', "%25");
            for url in [
                format!("postgres://u:{secret}@h/db?nosuchoption=1"),
                format!("postgres://u:{secret}@h:notaport/db"),
                format!("postgres://u:{secret}@h/db?sslmode=sometimes"),
                format!("postgres://u:{encoded}@h/db?sslrootcert=system"),
                format!("postgres://u:{secret}@[h/db"),
                format!("mysql://u:{secret}@h/db"),
                format!("postgres://h/db?password={secret}&port=x"),
            ] {
                let e = parse(&url).unwrap_err();
                let decoded = percent_decode_str(secret).decode_utf8_lossy();
                for text in [e.to_string(), format!("{e:?}")] {
                    assert!(!text.contains(secret), "{url}: {text}");
                    assert!(!text.contains(decoded.as_ref()), "{url}: {text}");
                    assert!(!text.contains('\n'), "{text}");
                }
            }
        }
    }

    #[test]
    fn tls_parameters_are_taken_out_for_the_connector() {
        let mode = |url: &str| match parse(url).unwrap().target {
            Target::Postgres(t) => (t.ssl_mode, t.roots, t.config.get_ssl_mode()),
            Target::Sqlite(_) => panic!("not postgres"),
        };
        use tokio_postgres::config::SslMode as Pg;
        assert_eq!(
            mode("postgres://h/db"),
            (SslMode::Prefer, Roots::Default, Pg::Prefer)
        );
        assert_eq!(
            mode("postgres://h/db?sslmode=disable"),
            (SslMode::Disable, Roots::Default, Pg::Disable)
        );
        assert_eq!(
            mode("postgres://h/db?application_name=x&sslmode=require"),
            (SslMode::Require, Roots::Default, Pg::Require)
        );
        assert_eq!(
            mode("postgres://u:p?w@h/db?sslmode=verify-ca&sslrootcert=%2Fetc%2Fca.pem"),
            (
                SslMode::VerifyCa,
                Roots::File("/etc/ca.pem".into()),
                Pg::Require
            )
        );
        assert_eq!(
            mode("postgres://h/db?sslrootcert=system&sslmode=verify-full"),
            (SslMode::VerifyFull, Roots::System, Pg::Require)
        );
        let p = take_tls_params("postgres://u:pw@h/db?a=1&sslmode=verify-full&b=2&sslrootcert=x");
        assert_eq!(p.rest, "postgres://u:pw@h/db?a=1&b=2");
        assert_eq!(
            take_tls_params("postgres://h/db?sslmode=require").rest,
            "postgres://h/db"
        );
        for (url, why) in [
            ("postgres://h/db?sslmode=allow", "unsupported sslmode"),
            (
                "postgres://h/db?sslmode=verify-ca&sslrootcert=system",
                "needs sslmode=verify-full",
            ),
            ("postgres://h/db?sslrootcert=", "sslrootcert is empty"),
        ] {
            let e = parse(url).unwrap_err().to_string();
            assert!(e.contains(why), "{url}: {e}");
        }
    }

    #[test]
    fn scrub_removes_a_quoted_password() {
        let mut text = "could not log in with hunter2".to_owned();
        scrub(&mut text, "postgres://u:hunter2@h/db");
        assert_eq!(text, "could not log in with ***");
    }
}
