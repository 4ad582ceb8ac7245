//! Human-facing text comes in Spanish (the default) and English.

use serde::Serialize;

/// The language a caller asked for with `Accept-Language`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Es,
    En,
}

impl Lang {
    /// Picks English only when the header's first preference is English;
    /// everything else (absent, `es-MX`, `*`) is Spanish.
    pub fn from_accept_language(header: Option<&str>) -> Lang {
        let first = header
            .and_then(|h| h.split(',').next())
            .map(|t| {
                t.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        if first == "en" || first.starts_with("en-") {
            Lang::En
        } else {
            Lang::Es
        }
    }
}

/// A text in both languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Text {
    pub es: &'static str,
    pub en: &'static str,
}

impl Text {
    pub const fn new(es: &'static str, en: &'static str) -> Text {
        Text { es, en }
    }

    pub fn get(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::Es => self.es,
            Lang::En => self.en,
        }
    }
}

/// A message built at run time (with values in it) in both languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    pub es: String,
    pub en: String,
}

impl Message {
    pub fn new(es: impl Into<String>, en: impl Into<String>) -> Message {
        Message {
            es: es.into(),
            en: en.into(),
        }
    }

    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Es => &self.es,
            Lang::En => &self.en,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_prefers_spanish_unless_english_comes_first() {
        assert_eq!(Lang::from_accept_language(None), Lang::Es);
        assert_eq!(Lang::from_accept_language(Some("en")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("en-US,es;q=0.5")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("es-MX,en;q=0.8")), Lang::Es);
        assert_eq!(Lang::from_accept_language(Some("english")), Lang::Es);
    }
}
