//! Writing, committing, reopening and rebuilding the index.

use super::*;
use crate::*;

#[test]
fn upsert_replaces_and_delete_removes() {
    let index = fixture();
    let mut w = index.writer().unwrap();
    w.upsert(&merchant(
        "mer_5",
        "深圳市某某科技有限公司",
        "91440300MA5SZ00055",
        "440305",
        "PREPAID_CARD",
        "",
    ))
    .unwrap();
    w.delete("mer_6").unwrap();
    // Not visible before commit.
    assert!(find(&index, "北京大学").contains(&"mer_6".to_string()));
    w.commit(3).unwrap();
    // Visible right after commit (read-your-writes).
    assert!(find(&index, "贸易").is_empty());
    assert_eq!(find(&index, "科技"), vec!["mer_5"]);
    assert!(find(&index, "北京大学").is_empty());
    assert_eq!(index.num_docs(), corpus().len() as u64 - 1);
}

#[test]
fn documents_with_bad_ids_are_refused() {
    let index = SearchIndex::in_memory().unwrap();
    let mut w = index.writer().unwrap();
    let bad = merchant("", "某某", "", "320102", "CANTEEN", "");
    assert!(matches!(
        w.upsert(&bad),
        Err(SearchError::InvalidDocument { .. })
    ));
    let mut inconsistent = MerchantDoc {
        id: "mer_1".into(),
        name: "某某".into(),
        uscc: String::new(),
        region: "320102".into(),
        industry: "CANTEEN".into(),
        status: "ACTIVE".into(),
        description: String::new(),
        merchant_id: "mer_2".into(),
    };
    assert!(w.upsert(&Doc::Merchant(inconsistent.clone())).is_err());
    inconsistent.merchant_id = "mer_1".into();
    inconsistent.region = "3".repeat(MAX_REGION_CHARS + 1);
    assert!(w.upsert(&Doc::Merchant(inconsistent)).is_err());
    assert!(w.delete(&"x".repeat(MAX_ID_BYTES + 1)).is_err());
}

#[test]
fn only_one_writer_at_a_time() {
    let index = SearchIndex::in_memory().unwrap();
    let w = index.writer().unwrap();
    assert!(matches!(index.writer(), Err(SearchError::WriterBusy)));
    w.close().unwrap();
    assert!(index.writer().is_ok());
}

#[test]
fn the_committed_seq_never_goes_backwards_without_a_clear() {
    let index = fixture();
    let mut w = index.writer().unwrap();
    assert_eq!(w.last_indexed_seq(), 2);
    assert!(matches!(
        w.commit(1),
        Err(SearchError::SeqWentBackwards {
            committed: 2,
            requested: 1
        })
    ));
    w.commit(2).unwrap();
    w.clear().unwrap();
    w.commit(0).unwrap();
    assert_eq!(index.last_indexed_seq().unwrap(), 0);
    assert_eq!(index.num_docs(), 0);
}

#[test]
fn clearing_and_reindexing_gives_the_same_answers() {
    let index = fixture();
    let queries = [
        "驾驶培训",
        "驾校",
        "北京大学",
        "Acme 南京",
        "",
        "LY20250301000001",
        "午餐费",
    ];
    let before: Vec<Vec<String>> = queries.iter().map(|q| find(&index, q)).collect();
    let mut w = index.writer().unwrap();
    w.upsert(&merchant(
        "mer_x",
        "不该留下的驾校",
        "",
        "320102",
        "DRIVING_SCHOOL",
        "",
    ))
    .unwrap();
    w.clear().unwrap();
    // Until the reindex commits, searches still see the old documents.
    assert_eq!(find(&index, "驾校"), before[1]);
    for d in corpus() {
        w.upsert(&d).unwrap();
    }
    w.commit(2).unwrap();
    let after: Vec<Vec<String>> = queries.iter().map(|q| find(&index, q)).collect();
    assert_eq!(before, after);
    assert!(!find(&index, "不该留下").contains(&"mer_x".to_string()));
}

#[test]
fn reopening_reregisters_tokenizers_and_keeps_the_last_seq() {
    let dir = tempfile::tempdir().unwrap();
    {
        let index = SearchIndex::open_or_create(dir.path()).unwrap();
        assert_eq!(index.last_indexed_seq().unwrap(), 0);
        fill(&index, 42);
    }
    let index = SearchIndex::open_or_create(dir.path()).unwrap();
    assert_eq!(index.last_indexed_seq().unwrap(), 42);
    assert!(find(&index, "驾驶培训").contains(&"mer_1".to_string()));
    // Writing after reopening needs the tokenizers too.
    let mut w = index.writer().unwrap();
    assert_eq!(w.last_indexed_seq(), 42);
    w.upsert(&merchant(
        "mer_10",
        "无锡某某驾校",
        "",
        "320200",
        "DRIVING_SCHOOL",
        "",
    ))
    .unwrap();
    w.commit(43).unwrap();
    assert!(find(&index, "无锡").contains(&"mer_10".to_string()));
    assert!(index.size_bytes().unwrap() > 0);
}

#[test]
fn an_index_of_another_schema_is_reported_and_can_be_recreated() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut b = tantivy::schema::Schema::builder();
        b.add_text_field("id", tantivy::schema::STRING);
        let old = tantivy::Index::create_in_dir(dir.path(), b.build()).unwrap();
        let mut w: tantivy::IndexWriter = old.writer(15_000_000).unwrap();
        w.commit().unwrap();
    }
    let err = SearchIndex::open_or_create(dir.path()).unwrap_err();
    assert!(matches!(err, SearchError::SchemaMismatch { .. }), "{err}");
    let (index, recreated) = SearchIndex::open_or_recreate(dir.path()).unwrap();
    assert!(recreated);
    assert_eq!(index.last_indexed_seq().unwrap(), 0);
    fill(&index, 7);
    drop(index);
    let (index, recreated) = SearchIndex::open_or_recreate(dir.path()).unwrap();
    assert!(!recreated);
    assert_eq!(index.last_indexed_seq().unwrap(), 7);
    assert_eq!(find(&index, "贸易"), vec!["mer_5"]);
}

#[test]
fn the_index_is_shareable_and_the_writer_can_move_to_a_background_task() {
    fn shareable<T: Send + Sync + Clone>() {}
    fn movable<T: Send>() {}
    shareable::<SearchIndex>();
    movable::<SearchWriter>();
}

#[test]
fn upserting_the_same_id_twice_before_a_commit_keeps_the_last_version() {
    let index = SearchIndex::in_memory().unwrap();
    let mut w = index.writer().unwrap();
    w.upsert(&merchant(
        "mer_1",
        "南京某某食堂",
        "",
        "320102",
        "CANTEEN",
        "",
    ))
    .unwrap();
    w.upsert(&merchant(
        "mer_1",
        "南京某某驾校",
        "",
        "320102",
        "DRIVING_SCHOOL",
        "",
    ))
    .unwrap();
    w.commit(1).unwrap();
    assert_eq!(index.num_docs(), 1);
    assert!(find(&index, "食堂").is_empty());
    assert_eq!(find(&index, "驾校"), vec!["mer_1"]);
}

#[test]
fn open_or_create_makes_a_missing_directory() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a").join("index");
    let index = SearchIndex::open_or_create(&nested).unwrap();
    fill(&index, 1);
    assert_eq!(find(&index, "贸易"), vec!["mer_5"]);
}
