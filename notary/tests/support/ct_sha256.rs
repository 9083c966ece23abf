//! SHA-256 for `ct-merkle`, which is generic over `digest` 0.11 hashes: this wraps the same
//! `sha2` 0.10 implementation the notary uses, so comparisons measure the trees, not two SHA-256
//! builds.

use ct_merkle::digest::{FixedOutput, HashMarker, Output, OutputSizeUser, Update, consts::U32};

#[derive(Clone, Default)]
pub struct Sha256(sha2::Sha256);

impl HashMarker for Sha256 {}

impl OutputSizeUser for Sha256 {
    type OutputSize = U32;
}

impl Update for Sha256 {
    fn update(&mut self, data: &[u8]) {
        sha2::Digest::update(&mut self.0, data);
    }
}

impl FixedOutput for Sha256 {
    fn finalize_into(self, out: &mut Output<Self>) {
        out.copy_from_slice(&sha2::Digest::finalize(self.0));
    }
}
