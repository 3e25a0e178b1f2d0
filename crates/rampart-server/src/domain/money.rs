//! Amounts and currencies of payments.

use std::fmt;

/// A positive amount of at most 1 000 000.00, in cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money(i64);

impl Money {
    /// Parses `"19.99"`: digits, at most two decimals, above 0 and at most
    /// 1 000 000.00.
    pub fn parse(s: &str) -> Option<Self> {
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole)
            || whole.len() > 7
            || (s.contains('.') && (!digits(frac) || frac.len() > 2))
        {
            return None;
        }
        let whole: i64 = whole.parse().ok()?;
        let frac: i64 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<2}").parse().ok()?
        };
        let cents = whole * 100 + frac;
        (cents > 0 && cents <= 100_000_000).then_some(Self(cents))
    }

    /// A stored amount in cents.
    pub const fn from_cents(cents: i64) -> Self {
        Self(cents)
    }

    /// The amount in cents.
    pub const fn cents(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Money {
    /// Two decimals: `19.90`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

/// The currencies payments accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Currency {
    /// US dollar.
    Usd,
    /// Euro.
    Eur,
    /// Pound sterling.
    Gbp,
    /// Canadian dollar.
    Cad,
    /// Australian dollar.
    Aud,
    /// Swiss franc.
    Chf,
}

impl Currency {
    /// Every accepted currency.
    pub const ALL: [Currency; 6] = [
        Currency::Usd,
        Currency::Eur,
        Currency::Gbp,
        Currency::Cad,
        Currency::Aud,
        Currency::Chf,
    ];

    /// The ISO 4217 code.
    pub const fn code(self) -> &'static str {
        match self {
            Currency::Usd => "USD",
            Currency::Eur => "EUR",
            Currency::Gbp => "GBP",
            Currency::Cad => "CAD",
            Currency::Aud => "AUD",
            Currency::Chf => "CHF",
        }
    }

    /// Parses an ISO 4217 code exactly as written (upper case).
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts() {
        for (s, cents) in [
            ("19.99", Some(1999)),
            ("1", Some(100)),
            ("0.5", Some(50)),
            ("1000000", Some(100_000_000)),
            ("1000000.01", None),
            ("0", None),
            ("0.00", None),
            ("-1", None),
            ("1.999", None),
            ("1e3", None),
            (".5", None),
            ("5.", None),
            ("", None),
        ] {
            assert_eq!(Money::parse(s).map(Money::cents), cents, "{s}");
        }
    }
}
