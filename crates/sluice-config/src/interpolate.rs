//! `${NAME}` interpolation over the untyped TOML tree, before typed deserialisation.
//!
//! Every string value (not key) may reference environment variables. An unset variable is a
//! problem naming the variable and the field, except inside `providers.X` when that provider
//! has `optional = true`: then the variable reads as "" and X is reported as skipped, so its
//! shape is still checked but it is left out of the resolved config. `$${` is a literal `${`.

use toml::{Table, Value};

use crate::config::SkippedProvider;
use crate::error::{Problem, Problems};
use crate::path;

/// Replaces `${NAME}` in every string of `doc`, recording problems, and returns the optional
/// providers whose variables are unset.
pub(crate) fn interpolate(
    doc: &mut Table,
    env: &dyn Fn(&str) -> Option<String>,
    problems: &mut Problems,
) -> Vec<SkippedProvider> {
    let mut skipped = Vec::new();
    let mut path = String::new();
    for (key, value) in doc.iter_mut() {
        path.clear();
        path::push_key(&mut path, key);
        match value {
            Value::Table(providers) if key == "providers" => {
                for (name, provider) in providers.iter_mut() {
                    let len = path.len();
                    path::push_key(&mut path, name);
                    if is_optional(provider) {
                        let mut missing: Option<String> = None;
                        let mut lookup = |var: &str| {
                            env(var).or_else(|| {
                                missing.get_or_insert_with(|| var.to_owned());
                                Some(String::new())
                            })
                        };
                        walk(provider, &mut path, &mut lookup, problems);
                        if let Some(missing_var) = missing {
                            skipped.push(SkippedProvider {
                                name: name.clone(),
                                missing_var,
                            });
                        }
                    } else {
                        walk(provider, &mut path, &mut |var: &str| env(var), problems);
                    }
                    path.truncate(len);
                }
            }
            _ => walk(value, &mut path, &mut |var: &str| env(var), problems),
        }
    }
    skipped
}

fn is_optional(provider: &Value) -> bool {
    provider.get("optional") == Some(&Value::Boolean(true))
}

fn walk(
    value: &mut Value,
    path: &mut String,
    lookup: &mut dyn FnMut(&str) -> Option<String>,
    problems: &mut Problems,
) {
    match value {
        Value::String(s) => match expand(s, lookup) {
            Ok(Some(expanded)) => *s = expanded,
            Ok(None) => {}
            Err(problem) => problems.push(path.clone(), problem),
        },
        Value::Array(items) => {
            for (idx, item) in items.iter_mut().enumerate() {
                let len = path.len();
                path::push_index(path, idx);
                walk(item, path, lookup, problems);
                path.truncate(len);
            }
        }
        Value::Table(table) => {
            for (key, item) in table.iter_mut() {
                let len = path.len();
                path::push_key(path, key);
                walk(item, path, lookup, problems);
                path.truncate(len);
            }
        }
        Value::Integer(_) | Value::Float(_) | Value::Boolean(_) | Value::Datetime(_) => {}
    }
}

/// Expands `${NAME}` in `input`. `Ok(None)` means the string has nothing to expand.
pub(crate) fn expand(
    input: &str,
    lookup: &mut dyn FnMut(&str) -> Option<String>,
) -> Result<Option<String>, Problem> {
    if !input.contains('$') {
        return Ok(None);
    }
    let mut res = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(dollar) = rest.find('$') {
        res.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        if let Some(escaped) = after.strip_prefix("${") {
            res.push_str("${");
            rest = escaped;
        } else if let Some(body) = after.strip_prefix('{') {
            let Some(end) = body.find('}') else {
                return Err(Problem::UnterminatedVar {
                    value: input.to_owned(),
                });
            };
            let name = &body[..end];
            if !is_var_name(name) {
                return Err(Problem::BadVarName {
                    name: name.to_owned(),
                    value: input.to_owned(),
                });
            }
            match lookup(name) {
                Some(value) => res.push_str(&value),
                None => {
                    return Err(Problem::UnsetVar {
                        var: name.to_owned(),
                    })
                }
            }
            rest = &body[end + 1..];
        } else {
            res.push('$');
            rest = after;
        }
    }
    res.push_str(rest);
    Ok(Some(res))
}

fn is_var_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: Result<&str, Problem>) {
        let mut lookup = |var: &str| match var {
            "A" => Some("alpha".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        let got = expand(input, &mut lookup).map(|s| s.unwrap_or_else(|| input.to_owned()));
        assert_eq!(
            got.as_deref().map_err(Clone::clone),
            expect,
            "input {input:?}"
        );
    }

    #[test]
    fn expands_variables() {
        check("plain", Ok("plain"));
        check("${A}", Ok("alpha"));
        check("x-${A}-${A}-y", Ok("x-alpha-alpha-y"));
        check("${EMPTY}", Ok(""));
        check("cost $5 and $", Ok("cost $5 and $"));
        check("$${A} ${A}", Ok("${A} alpha"));
    }

    #[test]
    fn reports_bad_references() {
        check("${NOPE}", Err(Problem::UnsetVar { var: "NOPE".into() }));
        check(
            "abc ${A",
            Err(Problem::UnterminatedVar {
                value: "abc ${A".into(),
            }),
        );
        check(
            "${1A}",
            Err(Problem::BadVarName {
                name: "1A".into(),
                value: "${1A}".into(),
            }),
        );
        check(
            "${}",
            Err(Problem::BadVarName {
                name: String::new(),
                value: "${}".into(),
            }),
        );
    }
}
