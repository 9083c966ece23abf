//! Identifiers and their check algorithms (docs/domain.md, "Identifiers"): the Unified Social Credit Code
//! (GB 32100-2015), the resident identity number (GB 11643-1999), bank card numbers (Luhn) and
//! mainland mobile numbers.

/// The USCC alphabet: digits and capital letters without I, O, S, V, Z.
const USCC_ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// What a USCC check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsccCheck {
    Valid,
    /// Well formed but the check character is wrong: some early codes are legal yet fail, so
    /// such a merchant goes to manual review rather than being rejected.
    ChecksumMismatch,
    /// Not 18 characters of the USCC alphabet.
    Malformed,
}

/// Checks a Unified Social Credit Code: 18 characters from the alphabet, check character =
/// (31 − Σ(value × weight) mod 31) mod 31.
pub fn check_uscc(code: &str) -> UsccCheck {
    let values: Option<Vec<u32>> = code
        .chars()
        .map(|c| USCC_ALPHABET.find(c).map(|i| i as u32))
        .collect();
    let Some(values) = values else {
        return UsccCheck::Malformed;
    };
    if values.len() != 18 {
        return UsccCheck::Malformed;
    }
    let sum: u32 = values.iter().zip(USCC_WEIGHTS).map(|(v, w)| v * w).sum();
    let check = (31 - sum % 31) % 31;
    if values[17] == check {
        UsccCheck::Valid
    } else {
        UsccCheck::ChecksumMismatch
    }
}

/// Completes a 17-character USCC body with its check character (for fixtures and demo data).
///
/// Returns `None` when the body is not 17 characters of the USCC alphabet.
pub fn uscc_with_check(body: &str) -> Option<String> {
    let values: Option<Vec<u32>> = body
        .chars()
        .map(|c| USCC_ALPHABET.find(c).map(|i| i as u32))
        .collect();
    let values = values?;
    if values.len() != 17 {
        return None;
    }
    let sum: u32 = values.iter().zip(USCC_WEIGHTS).map(|(v, w)| v * w).sum();
    let check = ((31 - sum % 31) % 31) as usize;
    USCC_ALPHABET
        .chars()
        .nth(check)
        .map(|c| format!("{body}{c}"))
}

/// Completes a 17-digit resident identity body with its check character (fixtures, demo data).
pub fn id_number_with_check(body: &str) -> Option<String> {
    let b = body.as_bytes();
    if b.len() != 17 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = b
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    let check = ID_CHECK[(sum % 11) as usize] as char;
    Some(format!("{body}{check}"))
}

const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK: &[u8; 11] = b"10X98765432";

/// Checks an 18-character resident identity number: 17 digits, a birth date, and the ISO 7064
/// MOD 11-2 check character (`X` for 10).
pub fn is_valid_id_number(id: &str) -> bool {
    let b = id.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let birth = &id[6..14];
    if chrono::NaiveDate::parse_from_str(birth, "%Y%m%d").is_err() {
        return false;
    }
    let sum: u32 = b[..17]
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    let check = ID_CHECK[(sum % 11) as usize];
    b[17] == check
}

/// Luhn check of a 12–19 digit card number.
pub fn is_valid_card_number(card: &str) -> bool {
    let b = card.as_bytes();
    if !(12..=19).contains(&b.len()) || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = b
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(d - b'0');
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// A mainland mobile number: 11 digits starting with 13–19.
pub fn is_valid_mobile(phone: &str) -> bool {
    let b = phone.as_bytes();
    b.len() == 11
        && b.iter().all(u8::is_ascii_digit)
        && b[0] == b'1'
        && (b'3'..=b'9').contains(&b[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uscc_examples_from_the_standard() {
        assert_eq!(check_uscc("91110000600037341L"), UsccCheck::Valid);
        assert_eq!(check_uscc("91310115MA1K3BTP2B"), UsccCheck::Valid);
        assert_eq!(
            check_uscc("91110000600037341N"),
            UsccCheck::ChecksumMismatch
        );
        assert_eq!(check_uscc("91110000600037341"), UsccCheck::Malformed);
        assert_eq!(
            check_uscc("9111000060003734IL"),
            UsccCheck::Malformed,
            "I is not in the alphabet"
        );
        assert_eq!(
            check_uscc("91110000600037341l"),
            UsccCheck::Malformed,
            "lower case is not in the alphabet"
        );
    }

    #[test]
    fn check_characters_are_computed() {
        assert_eq!(
            uscc_with_check("91110000600037341").as_deref(),
            Some("91110000600037341L")
        );
        assert_eq!(
            id_number_with_check("11010519491231002").as_deref(),
            Some("11010519491231002X")
        );
        assert_eq!(uscc_with_check("9111000060003734I"), None);
    }

    #[test]
    fn resident_id_numbers_are_checked() {
        assert!(is_valid_id_number("11010519491231002X"));
        assert!(!is_valid_id_number("110105194912310021"));
        assert!(!is_valid_id_number("11010519491331002X"), "month 13");
        assert!(!is_valid_id_number("1101051949123100"));
    }

    #[test]
    fn card_numbers_and_phones() {
        assert!(is_valid_card_number("6216261000000000018"));
        assert!(!is_valid_card_number("6216261000000000019"));
        assert!(is_valid_mobile("13812345678"));
        assert!(!is_valid_mobile("12812345678"));
        assert!(!is_valid_mobile("1381234567"));
    }
}
