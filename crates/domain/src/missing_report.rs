//! The folio of a missing-person report (*folio de reporte de persona
//! desaparecida o no localizada*), which connects a victim record with the
//! search for missing persons.
//!
//! Reports are filed with the Comisión Nacional de Búsqueda, which keeps the
//! national registry (RNPDNO), or with a state search commission (*comisión
//! local de búsqueda*). SINTRA accepts one written form of the folio, so
//! that two records of the same report can be matched exactly:
//!
//! ```text
//! <issuer>-<year>-<number>
//! ```
//!
//! * `issuer`: `CNB` for the national commission and registry, or `CLB`
//!   followed by the two-digit INEGI key of the state whose commission
//!   filed it (`CLB01` … `CLB32`);
//! * `year`: the four-digit year the report was filed, from 1990 to the
//!   current year;
//! * `number`: the report's number in that issuer's year, 1 to 10 digits
//!   (leading zeros are part of the folio as issued and are kept).
//!
//! Case and the blanks around it are ignored (`cnb-2024-000123` is
//! `CNB-2024-000123`); nothing else is accepted: no inner blanks, no other
//! separators, no free text.

use std::fmt;

/// A well-formed missing-person report folio, upper case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MissingReportFolio(String);

impl MissingReportFolio {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MissingReportFolio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The longest folio: `CLB32-2026-9999999999`.
pub const MAX_LEN: usize = 21;

/// The pattern of [`parse`] for the OpenAPI spec (the year's upper bound,
/// which moves, is checked by the server only).
pub const PATTERN: &str = "^(CNB|CLB(0[1-9]|[12][0-9]|3[0-2]))-(19|20)[0-9]{2}-[0-9]{1,10}$";

/// Why a folio is refused (the value itself is never echoed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolioError {
    /// Not `<issuer>-<year>-<number>`, or an unknown issuer.
    Layout,
    /// A year before 1990 or after `latest_year`.
    Year,
}

/// Reads a folio as typed: trimmed, upper-cased, then checked against the
/// layout above. `latest_year` is the current year (a report cannot be
/// filed in the future).
pub fn parse(s: &str, latest_year: i32) -> Result<MissingReportFolio, FolioError> {
    let s = s.trim().to_ascii_uppercase();
    if s.len() > MAX_LEN || !s.is_ascii() {
        return Err(FolioError::Layout);
    }
    let mut parts = s.split('-');
    let (Some(issuer), Some(year), Some(number), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(FolioError::Layout);
    };
    let issuer_ok = issuer == "CNB"
        || issuer.strip_prefix("CLB").is_some_and(|e| {
            e.len() == 2
                && e.bytes().all(|b| b.is_ascii_digit())
                && matches!(e.parse::<u8>(), Ok(1..=32))
        });
    let digits = |p: &str, lo: usize, hi: usize| {
        (lo..=hi).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
    };
    if !issuer_ok || !digits(year, 4, 4) || !digits(number, 1, 10) {
        return Err(FolioError::Layout);
    }
    let y: i32 = year.parse().map_err(|_| FolioError::Layout)?;
    if !(1990..=latest_year).contains(&y) {
        return Err(FolioError::Year);
    }
    Ok(MissingReportFolio(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_and_state_folios_are_read_in_one_form() {
        assert_eq!(
            parse(" cnb-2024-000123 ", 2026).unwrap().as_str(),
            "CNB-2024-000123"
        );
        assert_eq!(
            parse("CLB19-2023-45", 2026).unwrap().as_str(),
            "CLB19-2023-45"
        );
        assert_eq!(
            parse("CLB32-2026-9999999999", 2026).unwrap().as_str().len(),
            MAX_LEN
        );
        let re_like = |s: &str| parse(s, 2099).is_ok();
        assert!(re_like("CLB01-1990-1"));
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "CNB",
            "CNB-2024",
            "CNB-2024-",
            "CNB 2024 123",
            "CNB-2024-12a",
            "CNB-24-123",
            "CLB00-2024-1",
            "CLB33-2024-1",
            "CLB9-2024-1",
            "FGR-2024-1",
            "CNB-2024-123-4",
            "CNB-2024-12345678901",
            "CNB–2024–1",
            "desaparecida en 2024",
        ] {
            assert_eq!(parse(bad, 2026), Err(FolioError::Layout), "{bad}");
        }
        assert_eq!(parse("CNB-1989-1", 2026), Err(FolioError::Year));
        assert_eq!(parse("CNB-2027-1", 2026), Err(FolioError::Year));
    }
}
