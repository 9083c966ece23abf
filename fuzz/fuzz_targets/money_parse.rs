//! `Money::from_str`, the parser every amount from the API goes through: it never panics, and
//! whatever it accepts is a plain decimal with at most two places that prints back to a value
//! which parses to the same amount.

#![no_main]

use std::str::FromStr;

use libfuzzer_sys::fuzz_target;
use lvyue_domain::Money;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(m) = Money::from_str(text) else {
        return;
    };
    assert!(m.fen() >= 0, "{text:?} parsed to a negative amount");
    assert!(
        m.fen() <= lvyue_domain::money::MAX_FEN,
        "{text:?} is out of range"
    );
    assert!(
        text.bytes().all(|b| b.is_ascii_digit() || b == b'.'),
        "{text:?} was accepted with a sign, exponent, space or other character"
    );
    let places = text.split_once('.').map_or(0, |(_, f)| f.len());
    assert!(
        places <= 2,
        "{text:?} was accepted with {places} decimal places"
    );
    let printed = m.to_string();
    assert_eq!(
        Money::from_str(&printed).map(Money::fen),
        Ok(m.fen()),
        "{text:?} prints as {printed:?}, which does not parse back"
    );
    assert_eq!(Money::parse_positive(text).is_ok(), m.fen() > 0);
});
