//! Opening the index, and the one writer that changes it.
//!
//! Read-your-writes: the reader reloads only when told (`ReloadPolicy::Manual`), and
//! [`SearchWriter::commit`] reloads it before returning, so a search that starts after a commit
//! returns sees everything that commit wrote (docs/design.md, "Stack notes").
//!
//! Resume: every commit records the last indexed event seq (and [`SCHEMA_VERSION`]) in the
//! commit payload of `meta.json`; after a restart the indexer asks [`SearchIndex::last_indexed_seq`]
//! and replays events after it. Upserts are idempotent, so replaying a few events twice is safe.

use std::path::Path;

use serde::{Deserialize, Serialize};
use tantivy::directory::MmapDirectory;
use tantivy::{
    Index, IndexReader, IndexSettings, IndexWriter, ReloadPolicy, TantivyDocument, Term,
};

use crate::analysis;
use crate::doc::{self, Doc};
use crate::error::{Result, SchemaVersionFound, SearchError};
use crate::schema::{self, Fields, SCHEMA_VERSION};

/// Memory the writer may use for documents not yet flushed, across its threads.
pub const WRITER_MEMORY_BUDGET_BYTES: usize = 128 * 1024 * 1024;
/// Indexing threads. tantivy's default is one per core, and each thread that received
/// documents finalises a segment of its own at every commit (and those segments are merged
/// later). The index is written by a server whose cores answer requests: one thread, one
/// segment per commit, measured in docs/benchmarks.md ("The search indexer under the access
/// log").
pub const WRITER_THREADS: usize = 1;

/// What each commit records in `meta.json`.
#[derive(Debug, Serialize, Deserialize)]
struct CommitRecord {
    schema_version: u32,
    last_seq: u64,
}

/// The search index: cheap to clone, safe to share between threads; searching is synchronous
/// CPU work (see [`SearchIndex::search`]).
#[derive(Clone)]
pub struct SearchIndex {
    pub(crate) index: Index,
    pub(crate) reader: IndexReader,
    pub(crate) fields: Fields,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex").finish_non_exhaustive()
    }
}

impl SearchIndex {
    /// Opens the index in `dir`, or creates an empty one there (creating the directory if
    /// needed; nothing else may keep files in it).
    ///
    /// # Errors
    /// [`SearchError::SchemaMismatch`] if the index there was built by another schema version:
    /// answer with [`SearchIndex::recreate`] and a full reindex. [`SearchError::Directory`] or
    /// [`SearchError::Engine`] on I/O failure.
    pub fn open_or_create(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(tantivy::TantivyError::from)?;
        let directory = MmapDirectory::open(dir)?;
        let (schema, fields) = schema::build();
        if !Index::exists(&directory).map_err(tantivy::TantivyError::from)? {
            let index = Index::create(directory, schema, IndexSettings::default())?;
            return Self::wrap(index, fields);
        }
        let index = Index::open(directory)?;
        if index.schema() != schema {
            return Err(SearchError::SchemaMismatch {
                found: SchemaVersionFound::DifferentFields,
                expected: SCHEMA_VERSION,
            });
        }
        let opened = Self::wrap(index, fields)?;
        if let Some(record) = opened.commit_record()?
            && record.schema_version != SCHEMA_VERSION
        {
            return Err(SearchError::SchemaMismatch {
                found: SchemaVersionFound::Version(record.schema_version),
                expected: SCHEMA_VERSION,
            });
        }
        Ok(opened)
    }

    /// Replaces whatever index is in `dir` by an empty one of the current schema. Only the
    /// files tantivy manages are removed (the old segments go at the first commit); its
    /// [`last_indexed_seq`](Self::last_indexed_seq) is 0.
    ///
    /// # Errors
    /// [`SearchError::Directory`] or [`SearchError::Engine`] on I/O failure.
    pub fn recreate(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(tantivy::TantivyError::from)?;
        let directory = MmapDirectory::open(dir)?;
        let (schema, fields) = schema::build();
        let index = Index::create(directory, schema, IndexSettings::default())?;
        Self::wrap(index, fields)
    }

    /// [`open_or_create`](Self::open_or_create), recreating the index on a schema mismatch or an
    /// unreadable commit record. Returns the index and whether it was recreated; a recreated
    /// index reports `last_indexed_seq() == 0`, so the indexer reindexes everything.
    ///
    /// # Errors
    /// [`SearchError::Directory`] or [`SearchError::Engine`] on I/O failure.
    pub fn open_or_recreate(dir: &Path) -> Result<(Self, bool)> {
        match Self::open_or_create(dir) {
            Ok(index) => Ok((index, false)),
            Err(SearchError::SchemaMismatch { .. } | SearchError::CorruptCommitRecord) => {
                Ok((Self::recreate(dir)?, true))
            }
            Err(other) => Err(other),
        }
    }

    /// An index in memory, for tests.
    ///
    /// # Errors
    /// [`SearchError::Engine`] if the reader cannot start.
    pub fn in_memory() -> Result<Self> {
        let (schema, fields) = schema::build();
        Self::wrap(Index::create_in_ram(schema), fields)
    }

    fn wrap(index: Index, fields: Fields) -> Result<Self> {
        analysis::register(&index)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Self {
            index,
            reader,
            fields,
        })
    }

    fn commit_record(&self) -> Result<Option<CommitRecord>> {
        let Some(payload) = self.index.load_metas()?.payload else {
            return Ok(None);
        };
        serde_json::from_str(&payload)
            .map(Some)
            .map_err(|_| SearchError::CorruptCommitRecord)
    }

    /// The last event seq recorded by a commit; 0 for an index never committed.
    ///
    /// # Errors
    /// [`SearchError::CorruptCommitRecord`] if the record cannot be read.
    pub fn last_indexed_seq(&self) -> Result<u64> {
        Ok(self.commit_record()?.map_or(0, |r| r.last_seq))
    }

    /// Takes the index's one writer.
    ///
    /// The writer is `Send`: move it into a dedicated indexing task (or keep it behind a
    /// mutex that is never held across an `.await`).
    ///
    /// # Errors
    /// [`SearchError::WriterBusy`] if another writer (in this process or another) holds the
    /// index.
    pub fn writer(&self) -> Result<SearchWriter> {
        let writer = self
            .index
            .writer_with_num_threads(WRITER_THREADS, WRITER_MEMORY_BUDGET_BYTES)
            .map_err(|e| match e {
                tantivy::TantivyError::LockFailure(..) => SearchError::WriterBusy,
                other => SearchError::Engine(other),
            })?;
        Ok(SearchWriter {
            committed_seq: self.last_indexed_seq()?,
            writer,
            reader: self.reader.clone(),
            fields: self.fields,
            cleared: false,
        })
    }

    /// Disk (or memory) used by the index's live segment files, in bytes.
    ///
    /// # Errors
    /// [`SearchError::Engine`] if the space usage cannot be computed.
    pub fn size_bytes(&self) -> Result<u64> {
        let usage = self
            .reader
            .searcher()
            .space_usage()
            .map_err(tantivy::TantivyError::from)?;
        Ok(usage.total().get_bytes())
    }

    /// Number of documents visible to searches.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }
}

/// The only writer of an index. Changes are invisible until [`commit`](Self::commit).
pub struct SearchWriter {
    writer: IndexWriter<TantivyDocument>,
    reader: IndexReader,
    fields: Fields,
    committed_seq: u64,
    cleared: bool,
}

impl std::fmt::Debug for SearchWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchWriter")
            .field("committed_seq", &self.committed_seq)
            .field("cleared", &self.cleared)
            .finish_non_exhaustive()
    }
}

impl SearchWriter {
    /// Adds a document, replacing any document with the same id. Cheap: the work happens on
    /// the writer's indexing threads.
    ///
    /// # Errors
    /// [`SearchError::InvalidDocument`] for an empty or over-long id or region code, or a
    /// merchant whose `merchant_id` is not its `id`.
    pub fn upsert(&mut self, doc: &Doc) -> Result<()> {
        let entry = doc::to_tantivy(doc, &self.fields)?;
        self.writer
            .delete_term(Term::from_field_text(self.fields.id, doc.id()));
        self.writer.add_document(entry)?;
        Ok(())
    }

    /// Removes the document with this id, if any.
    ///
    /// # Errors
    /// [`SearchError::InvalidDocument`] for an empty or over-long id.
    pub fn delete(&mut self, id: &str) -> Result<()> {
        doc::check_id(id)?;
        self.writer
            .delete_term(Term::from_field_text(self.fields.id, id));
        Ok(())
    }

    /// Drops every uncommitted change and every document, for a full reindex: upsert
    /// everything again, then [`commit`](Self::commit). Searches keep seeing the old documents
    /// until that commit, which swaps in the new set at once.
    ///
    /// # Errors
    /// [`SearchError::Engine`] if the writer cannot restart its threads.
    pub fn clear(&mut self) -> Result<()> {
        // delete_all_documents keeps documents added since the last commit; drop them first.
        self.writer.rollback()?;
        self.writer.delete_all_documents()?;
        self.cleared = true;
        Ok(())
    }

    /// Makes every change durable and visible, recording `last_seq` as the last indexed event.
    ///
    /// Blocking I/O (flushes segments, fsyncs): call it from `tokio::task::spawn_blocking` or a
    /// dedicated thread, never directly on an async worker.
    ///
    /// # Errors
    /// [`SearchError::SeqWentBackwards`] if `last_seq` is below the committed seq and no
    /// [`clear`](Self::clear) came before (nothing is committed then; the changes stay pending).
    /// [`SearchError::Engine`] on I/O failure.
    pub fn commit(&mut self, last_seq: u64) -> Result<()> {
        if last_seq < self.committed_seq && !self.cleared {
            return Err(SearchError::SeqWentBackwards {
                committed: self.committed_seq,
                requested: last_seq,
            });
        }
        let record = CommitRecord {
            schema_version: SCHEMA_VERSION,
            last_seq,
        };
        let payload =
            serde_json::to_string(&record).map_err(|_| SearchError::CorruptCommitRecord)?;
        let mut prepared = self.writer.prepare_commit()?;
        prepared.set_payload(&payload);
        prepared.commit()?;
        self.committed_seq = last_seq;
        self.cleared = false;
        self.reader.reload()?;
        Ok(())
    }

    /// Drops every change since the last commit (including a pending [`clear`](Self::clear)).
    ///
    /// # Errors
    /// [`SearchError::Engine`] if the writer cannot restart its threads.
    pub fn rollback(&mut self) -> Result<()> {
        self.writer.rollback()?;
        self.cleared = false;
        Ok(())
    }

    /// The last event seq committed.
    pub fn last_indexed_seq(&self) -> u64 {
        self.committed_seq
    }

    /// Waits for background segment merges and releases the index lock.
    ///
    /// # Errors
    /// [`SearchError::Engine`] if a merge failed.
    pub fn close(self) -> Result<()> {
        self.writer.wait_merging_threads()?;
        Ok(())
    }
}
