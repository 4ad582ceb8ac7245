//! The code of an entity (entidad federativa): the INEGI key of the 32
//! states, `"01"` to `"32"`, and `"00"` for the federal level, as the
//! `entities` catalog holds them. Checked once where a code comes in (a
//! row, a path, a query), and carried as an [`EntityCode`] from there on,
//! so a function taking one cannot be handed a name, a blank or `"99"`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Every code, by its number: `as_str` hands out these, so a code is a
/// `Copy` byte that still reads as text without allocating.
const CODES: [&str; 33] = [
    "00", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14", "15",
    "16", "17", "18", "19", "20", "21", "22", "23", "24", "25", "26", "27", "28", "29", "30", "31",
    "32",
];

/// An entity's two-digit code: `"00"` (the federal level) or a state's
/// `"01"` to `"32"`. Serialized as that text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "diesel",
    derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)
)]
#[cfg_attr(feature = "diesel", diesel(sql_type = diesel::sql_types::Text))]
pub struct EntityCode(u8);

/// A text that is not an entity's code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an entity code: {0:?}")]
pub struct InvalidEntityCode(pub String);

impl EntityCode {
    /// The federal level (`"00"`): the Comisión Intersecretarial and the
    /// federal institutions.
    pub const FEDERAL: EntityCode = EntityCode(0);

    /// The code `text` spells: exactly two digits, `"00"` to `"32"`.
    pub fn parse(text: &str) -> Result<EntityCode, InvalidEntityCode> {
        CODES
            .iter()
            .position(|c| *c == text)
            .and_then(|n| u8::try_from(n).ok())
            .map(EntityCode)
            .ok_or_else(|| InvalidEntityCode(text.to_string()))
    }

    /// The code as stored and shown (`"19"`).
    pub fn as_str(self) -> &'static str {
        // Only `parse` and `FEDERAL` make a code, both within the table.
        CODES.get(usize::from(self.0)).copied().unwrap_or("00")
    }

    pub fn is_federal(self) -> bool {
        self == EntityCode::FEDERAL
    }
}

impl fmt::Display for EntityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EntityCode {
    type Err = InvalidEntityCode;

    fn from_str(s: &str) -> Result<EntityCode, InvalidEntityCode> {
        EntityCode::parse(s)
    }
}

/// For a row read as text (`#[diesel(deserialize_as = String)]`).
impl TryFrom<String> for EntityCode {
    type Error = InvalidEntityCode;

    fn try_from(s: String) -> Result<EntityCode, InvalidEntityCode> {
        EntityCode::parse(&s)
    }
}

impl From<EntityCode> for String {
    fn from(code: EntityCode) -> String {
        code.as_str().to_string()
    }
}

impl PartialEq<str> for EntityCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for EntityCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for EntityCode {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<EntityCode> for String {
    fn eq(&self, other: &EntityCode) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<EntityCode> for &str {
    fn eq(&self, other: &EntityCode) -> bool {
        *self == other.as_str()
    }
}

/// As its text, like the `String` it replaces.
impl Serialize for EntityCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Checked: anything but `"00"` to `"32"` is refused.
impl<'de> Deserialize<'de> for EntityCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<EntityCode, D::Error> {
        let text = String::deserialize(deserializer)?;
        EntityCode::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_federal_level_and_the_32_states_are_codes() {
        assert_eq!(EntityCode::parse("00"), Ok(EntityCode::FEDERAL));
        for n in 1..=32 {
            let text = format!("{n:02}");
            assert_eq!(
                EntityCode::parse(&text).map(EntityCode::as_str),
                Ok(text.as_str())
            );
        }
        for bad in ["", "0", "1", "33", "99", "019", " 19", "1a", "NL"] {
            assert!(EntityCode::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn serializes_as_its_text_and_checks_what_it_reads() {
        let code = EntityCode::parse("19").unwrap();
        assert_eq!(serde_json::to_value(code).unwrap(), serde_json::json!("19"));
        assert_eq!(serde_json::from_str::<EntityCode>("\"19\"").unwrap(), code);
        assert!(serde_json::from_str::<EntityCode>("\"33\"").is_err());
        assert_eq!(code, "19");
        assert_eq!("19", code);
        assert_ne!(code, "20");
    }
}
