//! The bundled list of common passwords (data/README.md) and the variants of a password we look up in it.

use std::collections::HashSet;
use std::sync::LazyLock;

/// Embedded so the function needs no file at run time; indexed only on first use, so a cold start that never
/// checks a password pays nothing for it.
static LIST: &str = include_str!("../../data/common-passwords.txt");

static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    LIST.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
});

/// A stripped core shorter than this is not looked up on its own: otherwise a random password such as
/// `x!9#4$7%2&` would be refused because the list holds single letters.
const MIN_CORE_CHARS: usize = 3;

/// Whether the password, or an obvious variant of it, is on the list: compared case-insensitively, after
/// stripping leading and trailing digits, punctuation and spaces (`Password123!`), and after undoing common
/// leetspeak substitutions (`P@ssw0rd2024`).
pub(crate) fn is_common(password: &str) -> bool {
    let lower = password.to_lowercase();
    let core = lower.trim_matches(|c: char| {
        c.is_ascii_digit() || c.is_ascii_punctuation() || c.is_whitespace()
    });
    let mut candidates = vec![lower.clone(), deleet(&lower, 'i'), deleet(&lower, 'l')];
    if core.chars().count() >= MIN_CORE_CHARS {
        candidates.extend([core.to_string(), deleet(core, 'i'), deleet(core, 'l')]);
    }
    candidates.iter().any(|c| COMMON.contains(c.as_str()))
}

/// Undoes the usual character-for-letter swaps. `1` and `!` stand for either `i` or `l`, so callers try both.
fn deleet(s: &str, one_as: char) -> String {
    s.chars()
        .map(|c| match c {
            '@' | '4' => 'a',
            '8' => 'b',
            '(' => 'c',
            '3' => 'e',
            '6' | '9' => 'g',
            '1' | '!' => one_as,
            '|' => 'l',
            '0' => 'o',
            '5' | '$' => 's',
            '7' | '+' => 't',
            '2' => 'z',
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_loaded() {
        assert!(COMMON.len() > 19_000, "{}", COMMON.len());
        assert!(COMMON.contains("password"));
    }

    #[test]
    fn variants_are_found() {
        for p in [
            "password",
            "PASSWORD",
            "Password123!",
            "P@ssw0rd2024",
            "!!password!!",
            "2024dragon",
            "h3ll0",
        ] {
            assert!(is_common(p), "{p}");
        }
        for p in ["x!9#4$7%2&", "correct horse battery staple", "zq!9xK2m#47"] {
            assert!(!is_common(p), "{p}");
        }
    }
}
