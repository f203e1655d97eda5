//! Personal fields as a viewer sees them: supplier contact data and the people who approved,
//! cancelled or requested an order change are masked (`j***@example.com`, `***67`, `j***`);
//! planners and admins, who act on them, see them whole. The OpenAPI document says so per
//! field ([`MASKED_FOR_VIEWERS`]).

use crate::auth::Role;

/// The note the OpenAPI document carries on every masked field.
pub const MASKED_FOR_VIEWERS: &str = "Masked for the viewer role";

/// A response whose personal fields depend on the caller's role.
pub trait Redact {
    /// Masks the personal fields when `role` may not see them.
    fn redact(&mut self, role: Role);
}

/// Whether `role` sees personal fields masked.
pub fn masks(role: Role) -> bool {
    role < Role::Planner
}

/// `jane@example.com` → `j***@example.com`; text without `@` as [`person`].
pub fn email(s: &str) -> String {
    match s.rsplit_once('@') {
        Some((local, domain)) => format!("{}***@{domain}", first(local)),
        None => person(s),
    }
}

/// `+49 30 1234567` → `***67`: the last two digits, so a viewer can tell numbers apart.
pub fn phone(s: &str) -> String {
    let digits: Vec<char> = s.chars().filter(char::is_ascii_digit).collect();
    let tail: String = digits[digits.len().saturating_sub(2)..].iter().collect();
    if digits.len() < 6 {
        return "***".into();
    }
    format!("***{tail}")
}

/// `jane.doe` → `j***`; who acted without who exactly. Rules (`rule:auto`) and services
/// (`api-key:…`) are not people and stay readable.
pub fn person(s: &str) -> String {
    if s.starts_with("rule:") || s.starts_with("api-key:") {
        return s.to_owned();
    }
    format!("{}***", first(s))
}

/// Masks `field` in place when `role` masks.
pub fn field(field: &mut Option<String>, role: Role, how: fn(&str) -> String) {
    if masks(role)
        && let Some(v) = field.as_mut()
    {
        *v = how(v);
    }
}

fn first(s: &str) -> String {
    s.chars().next().map(String::from).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_phones_and_people_keep_only_a_hint() {
        assert_eq!(email("jane@example.com"), "j***@example.com");
        assert_eq!(email("ünal@b.example"), "ü***@b.example");
        assert_eq!(email("@x"), "***@x");
        assert_eq!(phone("+49 30 1234567"), "***67");
        assert_eq!(phone("123"), "***");
        assert_eq!(person("jane.doe"), "j***");
        assert_eq!(person("rule:auto"), "rule:auto");
        assert_eq!(person(""), "***");
    }

    #[test]
    fn only_viewers_see_masked_fields() {
        for (role, expected) in [
            (Role::Viewer, "j***@example.com"),
            (Role::Planner, "jane@example.com"),
            (Role::Admin, "jane@example.com"),
        ] {
            let mut v = Some("jane@example.com".to_owned());
            field(&mut v, role, email);
            assert_eq!(v.as_deref(), Some(expected), "{role:?}");
        }
        let mut none = None;
        field(&mut none, Role::Viewer, email);
        assert_eq!(none, None);
    }
}
