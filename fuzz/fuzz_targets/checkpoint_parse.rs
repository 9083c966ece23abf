//! The checkpoint parser and the signed-note opener: any text, signed or not, never panics;
//! a body that parses prints back to exactly the same text; a note that opens under the key is
//! the key's own origin, and any change to a signed note stops it from opening.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use lvyue_notary::{Checkpoint, SigningKey, VerifierKey};

const ORIGIN: &str = "lvyue.local/escrow-log";

fn keys() -> &'static (SigningKey, VerifierKey) {
    static KEYS: OnceLock<(SigningKey, VerifierKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let k = SigningKey::from_seed(ORIGIN, [7; 32]).expect("key");
        let v = k.verifier_key();
        (k, v)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (signer, key) = keys();
    if let Ok(c) = Checkpoint::parse_body(text) {
        assert_eq!(c.body(), text, "a parsed body prints back differently");
        // Signed by the log's key, it opens to the same checkpoint.
        if c.origin == ORIGIN {
            let note = c.sign(signer).expect("sign");
            assert_eq!(Checkpoint::open(&note, key).expect("opens"), c);
        }
    }
    if let Ok(c) = Checkpoint::open(text, key) {
        assert_eq!(c.origin, ORIGIN);
    }
    // Any one-byte change to a genuine note must not open (unless it is no change at all).
    if let Some((&first, rest)) = data.split_first() {
        let genuine = Checkpoint::new(ORIGIN, u64::from(first), lvyue_notary::leaf_hash(rest))
            .sign(signer)
            .expect("sign");
        let mut bytes = genuine.clone().into_bytes();
        let at = usize::from(first) % bytes.len();
        let flip = rest.first().copied().unwrap_or(1) | 1;
        bytes[at] ^= flip;
        if let Ok(tampered) = String::from_utf8(bytes)
            && tampered != genuine
            && let Ok(c) = Checkpoint::open(&tampered, key)
        {
            // Only a change the note format ignores may still open, and it must say the same.
            assert_eq!(c.size, u64::from(first), "tampered note opened as {c:?}");
            assert_eq!(
                c.root,
                lvyue_notary::leaf_hash(rest),
                "tampered note opened as {c:?}"
            );
        }
    }
});
