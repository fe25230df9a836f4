//! The gateway's API keys: `sk-sluice-<public id>-<secret>`.
//!
//! The public id names the key everywhere (the ledger's `key_id`, `keys list`, metrics); the
//! secret is shown once, when the key is created, and only its SHA-256 is stored. A plain hash
//! is enough because the secret is 190 bits of randomness, not a password: no dictionary or
//! brute force reaches it, so a slow KDF would only slow every request. The stored hash is
//! compared in constant time.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Every key starts with this.
pub const PREFIX: &str = "sk-sluice-";
/// Length of the public id (lower-case letters and digits).
pub const ID_LEN: usize = 12;
/// Length of the secret (letters and digits: 62^32 ≈ 2^190).
pub const SECRET_LEN: usize = 32;

const ID_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const SECRET_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A new key: what the caller stores (`id`, `secret_hash`) and what it shows once (`token`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    pub id: String,
    pub secret_hash: String,
    /// The whole key, `sk-sluice-<id>-<secret>`: never stored, never logged.
    pub token: String,
}

/// The key could not be made: the operating system's random source failed.
#[derive(Debug, thiserror::Error)]
#[error("no random bytes for a new key: {0}")]
pub struct RandomError(String);

/// Makes a new key from the operating system's random source.
pub fn generate() -> Result<NewKey, RandomError> {
    let id = random_string(ID_CHARS, ID_LEN)?;
    let secret = random_string(SECRET_CHARS, SECRET_LEN)?;
    Ok(NewKey {
        token: format!("{PREFIX}{id}-{secret}"),
        secret_hash: hash_secret(&secret),
        id,
    })
}

/// A key as a client presented it, split into its public id and its secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Presented<'a> {
    pub id: &'a str,
    pub secret: &'a str,
}

/// Splits `sk-sluice-<id>-<secret>`; `None` when the text is not shaped like a key (a
/// malformed key: it names no key at all).
pub fn parse(token: &str) -> Option<Presented<'_>> {
    let rest = token.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('-')?;
    let id_ok = id.len() == ID_LEN && id.bytes().all(|b| ID_CHARS.contains(&b));
    let secret_ok = secret.len() == SECRET_LEN && secret.bytes().all(|b| SECRET_CHARS.contains(&b));
    (id_ok && secret_ok).then_some(Presented { id, secret })
}

/// The stored form of a secret: its SHA-256 in lower-case hex.
pub fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    out
}

/// Whether `secret` is the one whose hash is `stored`, in time that does not depend on where
/// they differ.
pub fn verify(secret: &str, stored: &str) -> bool {
    let computed = hash_secret(secret);
    computed.as_bytes().ct_eq(stored.as_bytes()).into()
}

/// `len` characters drawn uniformly from `alphabet` (rejection sampling: no modulo bias).
fn random_string(alphabet: &[u8], len: usize) -> Result<String, RandomError> {
    let limit = 256 - 256 % alphabet.len();
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        getrandom::fill(&mut buf).map_err(|e| RandomError(e.to_string()))?;
        for &b in &buf {
            if usize::from(b) < limit && out.len() < len {
                out.push(char::from(alphabet[usize::from(b) % alphabet.len()]));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_parses_and_verifies() {
        let key = generate().unwrap();
        assert!(key.token.starts_with(PREFIX));
        let p = parse(&key.token).expect("a generated key parses");
        assert_eq!(p.id, key.id);
        assert!(verify(p.secret, &key.secret_hash));
        assert!(!key.token.contains(&key.secret_hash));
        // Another key's secret does not verify.
        let other = generate().unwrap();
        assert_ne!(other.id, key.id);
        assert!(!verify(
            parse(&other.token).unwrap().secret,
            &key.secret_hash
        ));
    }

    #[test]
    fn malformed_keys_do_not_parse() {
        let good = format!("{PREFIX}{}-{}", "a".repeat(ID_LEN), "B".repeat(SECRET_LEN));
        assert!(parse(&good).is_some());
        for bad in [
            "",
            "sk-sluice-",
            "sk-other-aaaaaaaaaaaa-BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
            &format!("{PREFIX}{}-{}", "A".repeat(ID_LEN), "B".repeat(SECRET_LEN)),
            &format!(
                "{PREFIX}{}-{}",
                "a".repeat(ID_LEN - 1),
                "B".repeat(SECRET_LEN)
            ),
            &format!(
                "{PREFIX}{}-{}",
                "a".repeat(ID_LEN),
                "B".repeat(SECRET_LEN + 1)
            ),
            &format!(
                "{PREFIX}{}-{}!",
                "a".repeat(ID_LEN),
                "B".repeat(SECRET_LEN - 1)
            ),
            &format!("{good} "),
        ] {
            assert!(parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn hashes_are_sha256_hex() {
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(!verify("abd", &hash_secret("abc")));
        assert!(!verify("abc", "short"));
    }
}
