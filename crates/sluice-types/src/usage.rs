//! Token counts.

use serde::Deserialize;

/// Token counts as a provider reports them (OpenAI's names; other providers' usage is read
/// into these).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
}

impl Usage {
    /// Counts the gateway made itself (a tokenizer estimate): the total is their sum.
    pub fn counted(prompt_tokens: u64, completion_tokens: u64) -> Self {
        Usage {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens.saturating_add(completion_tokens),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_counts_read_as_zero() {
        let u: Usage = serde_json::from_str(r#"{"prompt_tokens":3,"extra":1}"#).unwrap();
        assert_eq!(u, Usage::counted(3, 0).with_total(0));
        assert_eq!(Usage::counted(u64::MAX, 1).total_tokens, u64::MAX);
    }

    impl Usage {
        fn with_total(mut self, total: u64) -> Self {
            self.total_tokens = total;
            self
        }
    }
}
