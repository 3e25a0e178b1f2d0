//! The `Idempotency-Key` header.

/// 1–64 of `[A-Za-z0-9_-]`: a client's retry key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Parses a header value.
    pub fn parse(value: &str) -> Option<Self> {
        let ok = (1..=64).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| Self(value.to_owned()))
    }

    /// A fresh random key, for requests sent without one.
    pub fn random() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert!(IdempotencyKey::parse("retry-1_A").is_some());
        assert!(IdempotencyKey::parse(&"a".repeat(64)).is_some());
        for bad in ["", "a b", "ü", "4111111111111111\n", &"a".repeat(65)] {
            assert!(IdempotencyKey::parse(bad).is_none(), "{bad:?}");
        }
        assert!(IdempotencyKey::parse(IdempotencyKey::random().as_str()).is_some());
    }
}
