//! Record fields as the export reads them: serde_json's values, or values
//! borrowed from a record's JSON text, which an export parses without
//! allocating a string per value (most values are plain strings with
//! nothing to unescape).

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Number, Value};

/// One value, whichever representation it comes in.
pub(crate) enum View<'a, J> {
    Null,
    Bool(bool),
    Number(&'a Number),
    Str(&'a str),
    Array(&'a [J]),
    /// An object: fields never hold one, but whatever is stored shows.
    Object(&'a Value),
}

/// A JSON value the export can read.
pub(crate) trait JsonView: Sized {
    fn view(&self) -> View<'_, Self>;
}

impl JsonView for Value {
    fn view(&self) -> View<'_, Value> {
        match self {
            Value::Null => View::Null,
            Value::Bool(b) => View::Bool(*b),
            Value::Number(n) => View::Number(n),
            Value::String(s) => View::Str(s),
            Value::Array(items) => View::Array(items),
            Value::Object(_) => View::Object(self),
        }
    }
}

/// A value borrowed from JSON text where it can be.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Borrowed<'a> {
    Null,
    Bool(bool),
    Number(Number),
    Str(Cow<'a, str>),
    Array(Vec<Borrowed<'a>>),
    Object(Value),
}

impl JsonView for Borrowed<'_> {
    fn view(&self) -> View<'_, Self> {
        match self {
            Borrowed::Null => View::Null,
            Borrowed::Bool(b) => View::Bool(*b),
            Borrowed::Number(n) => View::Number(n),
            Borrowed::Str(s) => View::Str(s),
            Borrowed::Array(items) => View::Array(items),
            Borrowed::Object(v) => View::Object(v),
        }
    }
}

/// Writes `v` as compact JSON, as serde_json's `Display` does.
pub(crate) fn write_json<J: JsonView>(buf: &mut String, v: &J) {
    match v.view() {
        View::Null => buf.push_str("null"),
        View::Bool(b) => buf.push_str(if b { "true" } else { "false" }),
        View::Number(n) => {
            let _ = write!(buf, "{n}");
        }
        View::Str(s) => {
            let _ = write!(buf, "{}", Value::from(s));
        }
        View::Array(items) => {
            buf.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    buf.push(',');
                }
                write_json(buf, item);
            }
            buf.push(']');
        }
        View::Object(v) => {
            let _ = write!(buf, "{v}");
        }
    }
}

/// The top-level fields of a record's JSON text, in the text's order; a
/// text that is no object has none.
pub(crate) fn fields(json: &str) -> Result<Vec<(Cow<'_, str>, Borrowed<'_>)>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(json);
    let fields = de.deserialize_any(FieldsVisitor)?;
    de.end()?;
    Ok(fields)
}

struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = Vec<(Cow<'de, str>, Borrowed<'de>)>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(map.size_hint().unwrap_or(24));
        while let Some(key) = map.next_key_seed(CowStr)? {
            out.push((key, map.next_value()?));
        }
        Ok(out)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(vec![])
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(vec![])
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(vec![])
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(vec![])
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(vec![])
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(vec![])
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(vec![])
    }
}

/// A string borrowed from the text when it has nothing to unescape.
struct CowStr;

impl<'de> DeserializeSeed<'de> for CowStr {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(CowStrVisitor)
    }
}

struct CowStrVisitor;

impl<'de> Visitor<'de> for CowStrVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(s))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(s.to_owned()))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(s))
    }
}

impl<'de> Deserialize<'de> for Borrowed<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(BorrowedVisitor)
    }
}

struct BorrowedVisitor;

impl<'de> Visitor<'de> for BorrowedVisitor {
    type Value = Borrowed<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Borrowed::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Borrowed::Null)
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Self::Value, E> {
        Ok(Borrowed::Bool(b))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
        Ok(Borrowed::Number(n.into()))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
        Ok(Borrowed::Number(n.into()))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Self::Value, E> {
        Ok(Number::from_f64(n).map_or(Borrowed::Null, Borrowed::Number))
    }

    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Borrowed::Str(Cow::Borrowed(s)))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Borrowed::Str(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
        Ok(Borrowed::Str(Cow::Owned(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(4));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Borrowed::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Value::deserialize(de::value::MapAccessDeserializer::new(map)).map(Borrowed::Object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn borrowed_fields_read_as_serde_json_reads_them() {
        let value = json!({
            "name": "Comité \"estatal\"\nde NL", "plain": "MARÍA", "n": 34, "x": -1.5,
            "big": 18446744073709551615u64, "yes": true, "none": null,
            "list": ["A", "B\\C", 3, null, ["nested"], {"k": [1]}],
            "obj": {"a": {"b": "c"}}, "empty": [], "blank": ""
        });
        let text = value.to_string();
        let fields = fields(&text).unwrap();
        let map = value.as_object().unwrap();
        assert_eq!(fields.len(), map.len());
        for (key, v) in &fields {
            let mut ours = String::new();
            write_json(&mut ours, v);
            let mut theirs = String::new();
            write_json(&mut theirs, &map[key.as_ref()]);
            assert_eq!(ours, theirs, "{key}");
            assert_eq!(ours, map[key.as_ref()].to_string(), "{key}");
        }
        // Nothing to unescape: borrowed from the text.
        let plain = fields.iter().find(|(k, _)| k == "plain").unwrap();
        assert!(matches!(&plain.1, Borrowed::Str(Cow::Borrowed("MARÍA"))));
        assert!(matches!(&plain.0, Cow::Borrowed("plain")));
    }

    #[test]
    fn texts_that_are_no_object_have_no_fields_and_bad_json_is_an_error() {
        for text in ["null", "[1, 2]", "3", "\"x\"", "true"] {
            assert!(fields(text).unwrap().is_empty(), "{text}");
        }
        assert!(fields("{\"a\": ").is_err());
        assert!(fields("{} {}").is_err());
    }
}
