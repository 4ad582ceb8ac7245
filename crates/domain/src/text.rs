//! The one rule on characters every string from outside obeys, wherever it
//! enters (JSON body, query, path, header, multipart field, workbook cell):
//! no control characters. PostgreSQL cannot store NUL in text at all, and
//! the others (escape, bell, C1 codes…) have no meaning in any field of
//! SINTRA. Tab, line feed and carriage return may come in bodies and cells,
//! where multi-line free text allows them; each field's validation then
//! refuses them where the field is a single line.

/// Whether `c` may never appear in text of this kind. `multiline`: the text
/// may hold tab, line feed and carriage return.
pub fn is_forbidden_control(c: char, multiline: bool) -> bool {
    c.is_control() && !(multiline && matches!(c, '\t' | '\n' | '\r'))
}

/// Whether `s` holds a character [`is_forbidden_control`] refuses.
pub fn has_forbidden_control(s: &str, multiline: bool) -> bool {
    s.chars().any(|c| is_forbidden_control(c, multiline))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_escape_delete_and_c1_are_refused_whitespace_only_where_allowed() {
        for bad in ["a\0b", "\u{1b}[31m", "x\u{7f}", "\u{85}", "\u{9f}z"] {
            assert!(has_forbidden_control(bad, true), "{bad:?}");
            assert!(has_forbidden_control(bad, false), "{bad:?}");
        }
        for ws in ["a\tb", "línea\nsiguiente", "a\r\n"] {
            assert!(!has_forbidden_control(ws, true), "{ws:?}");
            assert!(has_forbidden_control(ws, false), "{ws:?}");
        }
        for ok in [
            "",
            "María José Pérez-Núñez",
            "CDMX/FGJ/2026 #12",
            "日本語 😀",
            "\u{a0}",
        ] {
            assert!(!has_forbidden_control(ok, false), "{ok:?}");
        }
    }
}
