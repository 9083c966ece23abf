//! The one error type of this crate.

use thiserror::Error;

/// What can go wrong when opening, writing or searching the index.
///
/// Messages are plain and say what happened in the caller's terms; the `api` crate maps each
/// variant to a public error code in one place.
#[derive(Debug, Error)]
pub enum SearchError {
    /// The index on disk was built by another version of this crate (different fields or
    /// different text analysis). The caller answers by rebuilding: [`crate::SearchIndex::recreate`]
    /// (or [`crate::SearchIndex::open_or_recreate`]) and reindexing from event seq 0.
    #[error(
        "the search index was built with schema version {found}, this build needs version {expected}; rebuild the index"
    )]
    SchemaMismatch {
        /// Version recorded on disk, or `None` when the fields themselves differ.
        found: SchemaVersionFound,
        /// Version this build writes.
        expected: u32,
    },

    /// The commit record of the index cannot be read; rebuild the index.
    #[error("the search index's commit record is unreadable; rebuild the index")]
    CorruptCommitRecord,

    /// A stored document lacks what every document carries (its kind); rebuild the index.
    #[error("the search index holds a malformed document; rebuild the index")]
    CorruptDocument,

    /// Another writer holds the index (one writer per index, across processes too).
    #[error("another writer already holds the search index")]
    WriterBusy,

    /// A document was refused before indexing.
    #[error("document refused: {reason}")]
    InvalidDocument {
        /// What is wrong with it.
        reason: &'static str,
    },

    /// `commit(last_seq)` was called with a seq below the one already committed, without a
    /// `clear()` in between: the index would claim to be older than it is.
    #[error("event seq went backwards: committed {committed}, asked to commit {requested}")]
    SeqWentBackwards {
        /// Seq in the last commit.
        committed: u64,
        /// Seq passed to this commit.
        requested: u64,
    },

    /// The page asked for is larger than [`crate::MAX_PAGE_SIZE`].
    #[error("page size {requested} is over the limit of {max}")]
    PageTooLarge {
        /// Asked for.
        requested: usize,
        /// Allowed.
        max: usize,
    },

    /// The offset asked for is larger than [`crate::MAX_OFFSET`].
    #[error("offset {requested} is over the limit of {max}; narrow the search instead")]
    OffsetTooLarge {
        /// Asked for.
        requested: usize,
        /// Allowed.
        max: usize,
    },

    /// The query text is longer than [`crate::MAX_QUERY_CHARS`].
    #[error("search text of {chars} characters is over the limit of {max}")]
    QueryTooLong {
        /// Characters in the text.
        chars: usize,
        /// Allowed.
        max: usize,
    },

    /// The query text splits into more than [`crate::MAX_QUERY_TERMS`] words.
    #[error("search text has {terms} words, over the limit of {max}")]
    TooManyTerms {
        /// Words found.
        terms: usize,
        /// Allowed.
        max: usize,
    },

    /// The index directory could not be opened.
    #[error("cannot open the search index directory: {0}")]
    Directory(#[from] tantivy::directory::error::OpenDirectoryError),

    /// Any other failure of the underlying engine (I/O, corruption).
    #[error("search index failure: {0}")]
    Engine(#[from] tantivy::TantivyError),
}

/// What the index on disk says about its schema version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaVersionFound {
    /// The commit record names this version.
    Version(u32),
    /// The fields differ from this build's fields (version unknown).
    DifferentFields,
}

impl std::fmt::Display for SchemaVersionFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Version(v) => write!(f, "{v}"),
            Self::DifferentFields => f.write_str("(unknown, different fields)"),
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = SearchError> = std::result::Result<T, E>;
