//! Free text people type (names, reasons, notes, references): checked in one place, trimmed,
//! and refused when too long or when it hides characters, never silently cut.
//!
//! What is refused besides control characters are the invisible formatting characters that
//! make one name look like another: bidirectional overrides and isolates (a merchant name that
//! renders reversed in a regulator's report) and zero-width characters (two names that look
//! identical but do not match in search or screening).

use crate::error::DomainError;

/// Text that must not be empty: trimmed, 1 to `max_chars` characters, no hidden characters.
///
/// # Errors
/// A validation error on `field` naming the limit.
pub fn required(field: &'static str, value: &str, max_chars: usize) -> Result<String, DomainError> {
    let v = value.trim();
    if v.is_empty() || !fits(v, max_chars) {
        return Err(DomainError::invalid(
            field,
            format!("must be 1 to {max_chars} characters without control or invisible characters"),
        ));
    }
    Ok(v.to_owned())
}

/// Text that may be empty: trimmed, at most `max_chars` characters, no hidden characters.
///
/// # Errors
/// A validation error on `field` naming the limit.
pub fn optional(field: &'static str, value: &str, max_chars: usize) -> Result<String, DomainError> {
    let v = value.trim();
    if !fits(v, max_chars) {
        return Err(DomainError::invalid(
            field,
            format!(
                "must be at most {max_chars} characters without control or invisible characters"
            ),
        ));
    }
    Ok(v.to_owned())
}

/// Text kept exactly as given, refused (never cut) when longer than `max_chars` characters.
///
/// # Errors
/// A validation error on `field` naming the limit.
pub fn at_most(field: &'static str, value: &str, max_chars: usize) -> Result<(), DomainError> {
    if value.chars().count() > max_chars {
        return Err(DomainError::invalid(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    Ok(())
}

/// Longest reference to a record in another system (a channel's transaction id, a batch file,
/// a bank transfer).
pub const MAX_EXTERNAL_REF: usize = 64;

/// A reference to a record in another system, as payment channels and banks' batch files write
/// them: trimmed, 1 to [`MAX_EXTERNAL_REF`] printable ASCII characters, no spaces.
///
/// # Errors
/// A validation error on `field`.
pub fn external_ref<'v>(field: &'static str, value: &'v str) -> Result<&'v str, DomainError> {
    let v = value.trim();
    if !printable_ascii(v, 1..=MAX_EXTERNAL_REF) {
        return Err(DomainError::invalid(
            field,
            format!("must be 1 to {MAX_EXTERNAL_REF} printable ASCII characters"),
        ));
    }
    Ok(v)
}

/// Whether `v` is printable ASCII (no space, no control character, nothing beyond ASCII) of a
/// length in `len` bytes: the one check for references, keys and secrets exchanged with other
/// systems, whose messages say which length each allows.
pub fn printable_ascii(v: &str, len: std::ops::RangeInclusive<usize>) -> bool {
    len.contains(&v.len()) && v.bytes().all(|b| b.is_ascii_graphic())
}

fn fits(v: &str, max_chars: usize) -> bool {
    v.chars().count() <= max_chars && !v.chars().any(hidden)
}

/// Control characters, and the format characters that change how text renders or compares
/// without being seen (Unicode bidi controls, zero-width characters, the byte-order mark).
fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}'                  // soft hyphen
            | '\u{061C}'                // Arabic letter mark
            | '\u{180E}'                // Mongolian vowel separator
            | '\u{200B}'..='\u{200F}'   // zero-width space/joiners, LRM, RLM
            | '\u{202A}'..='\u{202E}'   // bidi embeddings and overrides
            | '\u{2060}'..='\u{2064}'   // word joiner, invisible operators
            | '\u{2066}'..='\u{2069}'   // bidi isolates
            | '\u{FEFF}'                // byte-order mark / zero-width no-break space
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_kept_whole() {
        assert_eq!(
            required("name", "  南京某某驾校 ", 10).unwrap(),
            "南京某某驾校"
        );
        assert_eq!(optional("note", "   ", 10).unwrap(), "");
        // Exactly at the limit is fine; characters, not bytes, are counted.
        assert_eq!(required("name", "驾校驾校驾", 5).unwrap(), "驾校驾校驾");
    }

    #[test]
    fn printable_ascii_is_checked_by_bytes_within_the_range() {
        assert!(printable_ascii("wx4200-0001_A", 1..=64));
        assert!(printable_ascii(&"k".repeat(64), 1..=64));
        assert!(!printable_ascii(&"k".repeat(65), 1..=64));
        assert!(!printable_ascii("", 1..=64));
        assert!(!printable_ascii("short", 32..=256));
        for bad in ["has space", "tab\there", "订单", "nul\0"] {
            assert!(!printable_ascii(bad, 1..=64), "{bad:?}");
        }
    }

    #[test]
    fn too_long_text_is_refused_not_cut() {
        let e = required("reason", &"退".repeat(501), 500).unwrap_err();
        assert_eq!(e.code().as_str(), "VALIDATION");
        assert!(e.to_string().contains("reason"), "{e}");
        assert!(optional("note", &"x".repeat(11), 10).is_err());
        assert!(required("name", "", 10).is_err());
    }

    #[test]
    fn hidden_characters_are_refused() {
        for bad in [
            "南京\u{202E}校驾",
            "南京\u{200B}驾校",
            "\u{FEFF}驾校x",
            "驾\u{2066}校",
            "a\u{0007}b",
            "驾\u{00AD}校",
        ] {
            assert!(required("name", bad, 50).is_err(), "{bad:?} accepted");
            assert!(optional("note", bad, 50).is_err(), "{bad:?} accepted");
        }
        // Ordinary punctuation, full-width characters and Latin text are fine.
        assert!(required("name", "Nanjing 某某（集团）有限公司·二分部", 50).is_ok());
    }
}
