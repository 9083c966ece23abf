//! What a query text finds, and what ranks first.

use super::*;
use crate::*;

#[test]
fn a_longer_word_finds_the_driving_school_that_contains_it() {
    let index = fixture();
    let found = find(&index, "驾驶培训");
    // The school, and its orders (whose merchant name contains the words).
    assert_eq!(found, vec!["ord_1", "ord_2", "mer_1"]);
    // Words in any order, not adjacent: AND of words, not a phrase.
    assert!(find(&index, "培训公司").contains(&"mer_1".to_string()));
    assert!(find(&index, "有限公司 南京").contains(&"mer_1".to_string()));
}

#[test]
fn two_character_words_are_found() {
    let index = fixture();
    let schools = find(&index, "驾校");
    for id in ["mer_2", "mer_8"] {
        assert!(schools.contains(&id.to_string()), "驾校: {schools:?}");
    }
    assert!(find(&index, "贸易").contains(&"mer_5".to_string()));
    assert!(find(&index, "深圳").contains(&"mer_5".to_string()));
    assert!(find(&index, "食堂").contains(&"mer_4".to_string()));
    assert!(find(&index, "健身").contains(&"mer_9".to_string()));
}

#[test]
fn a_word_nested_in_a_longer_dictionary_word_is_found() {
    let index = fixture();
    assert_eq!(find(&index, "北京大学"), vec!["mer_6"]);
    // Single characters work through the unigrams.
    assert!(find(&index, "驾").contains(&"mer_2".to_string()));
}

#[test]
fn a_uscc_matches_exactly_in_any_case_and_a_near_miss_matches_nothing() {
    let index = fixture();
    assert_eq!(find(&index, "91110000600037341L"), vec!["mer_1"]);
    assert_eq!(find(&index, "91110000600037341l"), vec!["mer_1"]);
    assert!(find(&index, "91110000600037341N").is_empty());
    assert!(find(&index, "9111000060003734").is_empty());
}

#[test]
fn an_order_number_matches_exactly_and_ranks_first() {
    let index = fixture();
    let r = run(&index, "LY20250301000001", Scope::All);
    assert_eq!(ids(&r), vec!["ord_1"]);
    assert!(r.hits[0].title_html.contains("<b>LY20250301000001</b>"));
    assert!(find(&index, "LY20250301000009").is_empty());
    // An id is an identifier too.
    assert_eq!(
        find(&index, "ord_3").first().map(String::as_str),
        Some("ord_3")
    );
}

#[test]
fn mixed_chinese_and_latin_words_are_anded() {
    let index = fixture();
    let found = find(&index, "Acme 南京");
    assert_eq!(
        found.first().map(String::as_str),
        Some("mer_7"),
        "{found:?}"
    );
    assert!(found.contains(&"ord_6".to_string()));
    assert!(!found.contains(&"mer_1".to_string()));
    assert_eq!(
        find(&index, "driving SCHOOL 分校")
            .first()
            .map(String::as_str),
        Some("mer_7")
    );
    assert!(find(&index, "weekend").contains(&"ord_6".to_string()));
}

#[test]
fn an_exact_full_name_ranks_first() {
    let index = fixture();
    let found = find(&index, "南京玄武驾校");
    assert_eq!(
        found.first().map(String::as_str),
        Some("mer_2"),
        "{found:?}"
    );
    assert!(found.contains(&"mer_8".to_string()));
    let found = find(&index, "南京玄武驾校江宁分校");
    assert_eq!(
        found.first().map(String::as_str),
        Some("mer_8"),
        "{found:?}"
    );
}

#[test]
fn text_of_only_punctuation_matches_nothing_rather_than_everything() {
    let index = fixture();
    assert_eq!(run(&index, "，。**", Scope::All).total, 0);
}
