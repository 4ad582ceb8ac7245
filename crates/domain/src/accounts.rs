//! Rules on a person's own password change (length is checked with the
//! other password rules in the HTTP layer's `password` module).

/// Why a new password is refused, beyond its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewPasswordProblem {
    /// The same as the current one: a one-time password would stay known
    /// to whoever chose it.
    SameAsCurrent,
    /// Holds the username (case-insensitively): the first thing guessed.
    ContainsUsername,
}

pub fn check_new_password(
    username: &str,
    current: &str,
    new: &str,
) -> Result<(), NewPasswordProblem> {
    if new == current {
        return Err(NewPasswordProblem::SameAsCurrent);
    }
    let username = username.trim().to_lowercase();
    if !username.is_empty() && new.to_lowercase().contains(&username) {
        return Err(NewPasswordProblem::ContainsUsername);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_password_differs_from_the_current_and_does_not_hold_the_username() {
        assert_eq!(
            check_new_password("ana.lopez", "viejo-secreto-1", "viejo-secreto-1"),
            Err(NewPasswordProblem::SameAsCurrent)
        );
        assert_eq!(
            check_new_password("ana.lopez", "x", "mi-clave-ANA.LOPEZ-2026"),
            Err(NewPasswordProblem::ContainsUsername)
        );
        assert_eq!(
            check_new_password("ana.lopez", "x", "caballo-bateria-grapa"),
            Ok(())
        );
    }
}
