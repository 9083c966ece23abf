//! C2SP tlog-tiles (<https://c2sp.org/tlog-tiles>): tile paths, hash tiles and entry bundles.
//!
//! - `tile/<L>/<N>[.p/<W>]`: tile `N` of level `L`; 256 hashes of 32 bytes when full, `W`
//!   (1..=255) when partial. Level-0 hashes are leaf hashes; hash `i` of a level-`L` tile is the
//!   root of the `256^L` leaves numbered from `(N · 256 + i) · 256^L`.
//! - `tile/entries/<N>[.p/<W>]`: the entries behind level-0 tile `N`, each as a big-endian
//!   `u16` length and its bytes (so an entry is at most 65 535 bytes).
//! - `N` is written in groups of three digits, all but the last prefixed with `x`:
//!   1234067 → `x001/x234/067`, 5 → `005`. `L` and `W` have no leading zeros.
//!
//! For a tree of `s` leaves, level `L` has `⌊s / 256^(L+1)⌋` full tiles and, if
//! `⌊s / 256^L⌋ mod 256` is not 0, one partial tile of that width ([`TileLayout`]).
//! The hashes themselves come from [`crate::tree::Tree::tile_at`].

use std::fmt;
use std::str::FromStr;

use crate::error::{NotaryError, Result};
use crate::hash::{HASH_LEN, Hash};

/// Hashes (or entries) in a full tile.
pub const TILE_WIDTH: u16 = 256;

/// Tree levels spanned by one tile level.
pub const TILE_HEIGHT: u32 = 8;

/// Highest tile level a path may name (the spec allows 0..=63; a `u64` tree uses 0..=7).
pub const MAX_TILE_LEVEL: u8 = 63;

/// Largest entry an entry bundle can hold.
pub const MAX_ENTRY_BYTES: usize = u16::MAX as usize;

/// Which kind of tile a path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TileKind {
    /// A hash tile at tile level `level`.
    Hashes {
        /// Tile level, 0..=63.
        level: u8,
    },
    /// An entry bundle (level-0 data).
    Entries,
}

/// A tile's address: kind, index and width (256 for a full tile).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TilePath {
    /// Hash tile or entry bundle.
    pub kind: TileKind,
    /// Tile index `N`.
    pub index: u64,
    /// Number of hashes or entries, 1..=256; 256 means a full tile (no `.p/` suffix).
    pub width: u16,
}

impl TilePath {
    /// A hash tile path.
    ///
    /// # Errors
    /// [`NotaryError::BadTilePath`] if `level > 63` or `width` is not 1..=256.
    pub fn hashes(level: u8, index: u64, width: u16) -> Result<Self> {
        let path = TilePath {
            kind: TileKind::Hashes { level },
            index,
            width,
        };
        path.check()?;
        Ok(path)
    }

    /// An entry bundle path.
    ///
    /// # Errors
    /// [`NotaryError::BadTilePath`] if `width` is not 1..=256.
    pub fn entries(index: u64, width: u16) -> Result<Self> {
        let path = TilePath {
            kind: TileKind::Entries,
            index,
            width,
        };
        path.check()?;
        Ok(path)
    }

    /// True for a full (256-wide) tile.
    pub fn is_full(&self) -> bool {
        self.width == TILE_WIDTH
    }

    fn check(&self) -> Result<()> {
        let bad = |reason: &str| NotaryError::BadTilePath {
            path: format!("{self:?}"),
            reason: reason.to_owned(),
        };
        if !(1..=TILE_WIDTH).contains(&self.width) {
            return Err(bad("the width must be 1 to 256"));
        }
        if let TileKind::Hashes { level } = self.kind
            && level > MAX_TILE_LEVEL
        {
            return Err(bad("the level must be 0 to 63"));
        }
        Ok(())
    }

    /// Parses `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]` (no leading slash), in its
    /// one canonical spelling only.
    ///
    /// # Errors
    /// [`NotaryError::BadTilePath`] if it is not such a path.
    pub fn parse(path: &str) -> Result<Self> {
        let bad = |reason: &str| NotaryError::BadTilePath {
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        let rest = path
            .strip_prefix("tile/")
            .ok_or_else(|| bad("a tile path starts with tile/"))?;
        let (kind_text, rest) = rest
            .split_once('/')
            .ok_or_else(|| bad("a tile path is tile/<level>/<index>"))?;
        let kind = if kind_text == "entries" {
            TileKind::Entries
        } else {
            let level = parse_small(kind_text, u64::from(MAX_TILE_LEVEL))
                .ok_or_else(|| bad("the level must be 0 to 63 without leading zeros"))?;
            TileKind::Hashes { level: level as u8 }
        };
        let (index_text, width) = match rest.split_once(".p/") {
            Some((index_text, width_text)) => {
                let width = parse_small(width_text, u64::from(TILE_WIDTH) - 1)
                    .filter(|w| *w >= 1)
                    .ok_or_else(|| bad("a partial width must be 1 to 255 without leading zeros"))?;
                (index_text, width as u16)
            }
            None => (rest, TILE_WIDTH),
        };
        let index =
            parse_index(index_text).ok_or_else(|| bad("the index is not in x001/x234/067 form"))?;
        let parsed = TilePath { kind, index, width };
        // The index groups have one canonical spelling ("x000/005" is not 5).
        if parsed.to_string() != path {
            return Err(bad("not in canonical form"));
        }
        Ok(parsed)
    }
}

impl fmt::Display for TilePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            TileKind::Hashes { level } => write!(f, "tile/{level}/")?,
            TileKind::Entries => f.write_str("tile/entries/")?,
        }
        f.write_str(&format_index(self.index))?;
        if !self.is_full() {
            write!(f, ".p/{}", self.width)?;
        }
        Ok(())
    }
}

impl FromStr for TilePath {
    type Err = NotaryError;

    fn from_str(path: &str) -> Result<Self> {
        TilePath::parse(path)
    }
}

/// `N` as three-digit groups, all but the last prefixed with `x`.
fn format_index(mut index: u64) -> String {
    let mut text = format!("{:03}", index % 1000);
    while index >= 1000 {
        index /= 1000;
        text = format!("x{:03}/{text}", index % 1000);
    }
    text
}

fn parse_index(text: &str) -> Option<u64> {
    let groups: Vec<&str> = text.split('/').collect();
    let (last, leading) = groups.split_last()?;
    let mut index: u64 = 0;
    for group in leading {
        index = index
            .checked_mul(1000)?
            .checked_add(three_digits(group.strip_prefix('x')?)?)?;
    }
    index.checked_mul(1000)?.checked_add(three_digits(last)?)
}

fn three_digits(text: &str) -> Option<u64> {
    (text.len() == 3 && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// Decimal without leading zeros, at most `max`.
fn parse_small(text: &str, max: u64) -> Option<u64> {
    crate::checkpoint::parse_canonical_u64(text).filter(|v| *v <= max)
}

/// How the tiles of one level look at a tree size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TileLayout {
    /// Number of full tiles (indices `0..full`).
    pub full: u64,
    /// Width of the partial tile at index `full`, or 0 if there is none.
    pub partial_width: u16,
}

/// The tiles of tile level `level` in a tree of `size` leaves.
pub fn tile_layout(size: u64, level: u8) -> TileLayout {
    let shift = TILE_HEIGHT * u32::from(level);
    let nodes = size.checked_shr(shift).unwrap_or(0);
    TileLayout {
        full: nodes >> TILE_HEIGHT,
        partial_width: (nodes % u64::from(TILE_WIDTH)) as u16,
    }
}

/// The partial tiles a checkpoint at `size` needs published besides the full tiles: one per
/// tile level that has one, and the matching partial entry bundle.
pub fn partial_tiles(size: u64) -> Vec<TilePath> {
    let mut paths = Vec::new();
    for level in 0..=7u8 {
        let layout = tile_layout(size, level);
        if layout.partial_width != 0 {
            paths.push(TilePath {
                kind: TileKind::Hashes { level },
                index: layout.full,
                width: layout.partial_width,
            });
        }
    }
    let leaves = tile_layout(size, 0);
    if leaves.partial_width != 0 {
        paths.push(TilePath {
            kind: TileKind::Entries,
            index: leaves.full,
            width: leaves.partial_width,
        });
    }
    paths
}

/// Tile bytes: the hashes concatenated.
pub fn encode_tile(hashes: &[Hash]) -> Vec<u8> {
    hashes.iter().flat_map(|h| h.0).collect()
}

/// Splits tile bytes back into hashes.
///
/// # Errors
/// [`NotaryError::BadTile`] unless the bytes are 1 to 256 whole hashes.
pub fn decode_tile(bytes: &[u8]) -> Result<Vec<Hash>> {
    let count = bytes.len() / HASH_LEN;
    if !bytes.len().is_multiple_of(HASH_LEN) || count == 0 || count > usize::from(TILE_WIDTH) {
        return Err(NotaryError::BadTile {
            reason: format!("{} bytes is not 1 to 256 hashes of 32 bytes", bytes.len()),
        });
    }
    bytes.chunks_exact(HASH_LEN).map(Hash::from_slice).collect()
}

/// An entry bundle: each entry as a big-endian `u16` length and its bytes.
///
/// # Errors
/// [`NotaryError::EntryTooLarge`] if an entry exceeds 65 535 bytes;
/// [`NotaryError::BadEntryBundle`] for more than 256 entries.
pub fn encode_entry_bundle<E: AsRef<[u8]>>(entries: &[E]) -> Result<Vec<u8>> {
    if entries.len() > usize::from(TILE_WIDTH) {
        return Err(NotaryError::BadEntryBundle {
            reason: format!("{} entries; a bundle holds at most 256", entries.len()),
        });
    }
    let total: usize = entries.iter().map(|e| 2 + e.as_ref().len()).sum();
    let mut bytes = Vec::with_capacity(total);
    for (index, entry) in entries.iter().enumerate() {
        let entry = entry.as_ref();
        let len = u16::try_from(entry.len()).map_err(|_| NotaryError::EntryTooLarge {
            index,
            len: entry.len(),
        })?;
        bytes.extend_from_slice(&len.to_be_bytes());
        bytes.extend_from_slice(entry);
    }
    Ok(bytes)
}

/// Splits an entry bundle into its entries.
///
/// # Errors
/// [`NotaryError::BadEntryBundle`] if a length runs past the end, or there are more than 256
/// entries.
pub fn decode_entry_bundle(bytes: &[u8]) -> Result<Vec<&[u8]>> {
    let mut entries = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        if entries.len() == usize::from(TILE_WIDTH) {
            return Err(NotaryError::BadEntryBundle {
                reason: "more than 256 entries".to_owned(),
            });
        }
        let Some((len, tail)) = rest.split_first_chunk::<2>() else {
            return Err(NotaryError::BadEntryBundle {
                reason: "a length prefix is cut off".to_owned(),
            });
        };
        let len = usize::from(u16::from_be_bytes(*len));
        if tail.len() < len {
            return Err(NotaryError::BadEntryBundle {
                reason: format!(
                    "entry {} claims {len} bytes, {} remain",
                    entries.len(),
                    tail.len()
                ),
            });
        }
        let (entry, tail) = tail.split_at(len);
        entries.push(entry);
        rest = tail;
    }
    Ok(entries)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use sha2::{Digest as _, Sha256};

    use super::*;
    use crate::hash::leaf_hash;
    use crate::tree::Tree;

    const RFC_LEAVES: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];

    #[test]
    fn paths_print_and_parse() {
        let cases = [
            (TilePath::hashes(0, 5, 256).unwrap(), "tile/0/005"),
            (
                TilePath::hashes(0, 1_234_067, 256).unwrap(),
                "tile/0/x001/x234/067",
            ),
            (
                TilePath::hashes(1, 1_234_067, 17).unwrap(),
                "tile/1/x001/x234/067.p/17",
            ),
            (TilePath::hashes(2, 0, 1).unwrap(), "tile/2/000.p/1"),
            (
                TilePath::hashes(63, 1000, 255).unwrap(),
                "tile/63/x001/000.p/255",
            ),
            (TilePath::entries(0, 8).unwrap(), "tile/entries/000.p/8"),
            (TilePath::entries(273, 256).unwrap(), "tile/entries/273"),
            (
                TilePath::hashes(0, u64::MAX, 256).unwrap(),
                "tile/0/x018/x446/x744/x073/x709/x551/615",
            ),
        ];
        for (path, text) in cases {
            assert_eq!(path.to_string(), text);
            assert_eq!(TilePath::parse(text).unwrap(), path);
        }
    }

    #[test]
    fn non_canonical_paths_are_rejected() {
        for bad in [
            "tile/0/5",
            "tile/0/0005",
            "tile/00/005",
            "tile/64/005",
            "tile/0/x000/005",
            "tile/0/001/234",
            "tile/0/x001/234.p/0",
            "tile/0/005.p/256",
            "tile/0/005.p/08",
            "tile/0/005.p/",
            "/tile/0/005",
            "tile/entries/005.p/300",
            "tile/data/005",
            "tile/8/0/x001/x234/067", // Go sumdb form, with the height
            "tile/0/x018/x446/x744/x073/x709/x551/616",
            "tile/0/+05",
        ] {
            assert!(TilePath::parse(bad).is_err(), "{bad}");
        }
        assert!(TilePath::hashes(64, 0, 1).is_err());
        assert!(TilePath::hashes(0, 0, 0).is_err());
        assert!(TilePath::entries(0, 257).is_err());
    }

    #[test]
    fn the_spec_example_for_70000_leaves() {
        assert_eq!(
            tile_layout(70_000, 0),
            TileLayout {
                full: 273,
                partial_width: 112
            }
        );
        assert_eq!(
            tile_layout(70_000, 1),
            TileLayout {
                full: 1,
                partial_width: 17
            }
        );
        assert_eq!(
            tile_layout(70_000, 2),
            TileLayout {
                full: 0,
                partial_width: 1
            }
        );
        assert_eq!(
            tile_layout(70_000, 3),
            TileLayout {
                full: 0,
                partial_width: 0
            }
        );
        let partials: Vec<String> = partial_tiles(70_000)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            partials,
            [
                "tile/0/273.p/112",
                "tile/1/001.p/17",
                "tile/2/000.p/1",
                "tile/entries/273.p/112"
            ]
        );
        let partials: Vec<String> = partial_tiles(256).iter().map(ToString::to_string).collect();
        assert_eq!(partials, ["tile/1/000.p/1"]);
        assert!(partial_tiles(0).is_empty());
        assert_eq!(
            tile_layout(u64::MAX, 7),
            TileLayout {
                full: 0,
                partial_width: 255
            }
        );
    }

    #[test]
    fn the_size_8_reference_tiles() {
        let entries: Vec<Vec<u8>> = RFC_LEAVES.iter().map(|l| hex::decode(l).unwrap()).collect();
        let mut tree = Tree::new();
        for e in &entries {
            tree.push(leaf_hash(e));
        }
        let tile = encode_tile(&tree.tile_at(0, 0, 8).unwrap());
        assert_eq!(tile.len(), 256);
        assert_eq!(
            hex::encode(Sha256::digest(&tile)),
            "aea2f1bbb5140fd5f8eacb503fdf54c00c3d860c72588e40233addd416bc8f10"
        );
        assert_eq!(decode_tile(&tile).unwrap(), tree.tile_at(0, 0, 8).unwrap());

        let bundle = encode_entry_bundle(&entries).unwrap();
        assert_eq!(
            hex::encode(&bundle),
            "00000001000001100002202100023031000440414243000850515253545556570010606162636465666768696a6b6c6d6e6f"
        );
        let decoded = decode_entry_bundle(&bundle).unwrap();
        assert_eq!(
            decoded,
            entries.iter().map(Vec::as_slice).collect::<Vec<_>>()
        );
        // Each entry hashes to its level-0 tile hash.
        for (i, e) in decoded.iter().enumerate() {
            assert_eq!(leaf_hash(e), tree.leaf(i as u64).unwrap());
        }
    }

    #[test]
    fn malformed_tiles_and_bundles_are_rejected() {
        assert!(decode_tile(&[]).is_err());
        assert!(decode_tile(&[0; 33]).is_err());
        assert!(decode_tile(&[0; 257 * 32]).is_err());
        assert_eq!(decode_tile(&[0; 256 * 32]).unwrap().len(), 256);

        assert!(matches!(
            encode_entry_bundle(&[vec![0u8; 3], vec![0u8; 65_536]]),
            Err(NotaryError::EntryTooLarge {
                index: 1,
                len: 65_536
            })
        ));
        assert_eq!(
            encode_entry_bundle(&[vec![7u8; 65_535]]).unwrap().len(),
            65_537
        );
        assert!(encode_entry_bundle(&vec![b"x"; 257]).is_err());
        assert!(decode_entry_bundle(&[0]).is_err());
        assert!(decode_entry_bundle(&[0, 3, 1, 2]).is_err());
        assert!(decode_entry_bundle(&[0u8; 2 * 257]).is_err());
        assert_eq!(decode_entry_bundle(&[0u8; 2 * 256]).unwrap().len(), 256);
        assert!(decode_entry_bundle(&[]).unwrap().is_empty());
    }
}
