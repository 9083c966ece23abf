//! Text analysis: how names, remarks and queries are cut into terms.
//!
//! Three analyzers, registered by name on every open (tantivy stores only the names in the
//! schema, never the tokenizers — docs/design.md, "Stack notes"):
//!
//! - [`JIEBA`]: jieba in search mode (a long word also yields its dictionary sub-words), then
//!   [`WordCharsOnly`] (jieba emits spaces and punctuation as tokens), then lowercasing.
//! - [`NGRAM`]: every 1- and 2-character gram, lowercased. Jieba misses a word nested in a
//!   longer dictionary word (北京大学 inside 北京大学出版社); the bigrams recover it.
//! - [`RAW_LOWER`]: the whole value as one lowercased term, for identifiers and exact names.
//!
//! Queries are cut with jieba in *precise* mode ([`query_terms`]): each query word must match
//! (order-free AND), and a word that jieba did not produce at index time is still found through
//! its bigrams (see `query.rs`).

use tantivy::tokenizer::{
    LowerCaser, NgramTokenizer, RawTokenizer, TextAnalyzer, Token, TokenFilter, TokenStream,
    Tokenizer,
};
use tantivy_jieba::JiebaTokenizer;

use crate::error::Result;

/// Tokenizer name of the jieba (search mode) analyzer. Versioned: changing the analysis means a
/// new name, so an old index no longer matches the schema and gets rebuilt.
pub(crate) const JIEBA: &str = "lvyue_jieba_v1";
/// Tokenizer name of the 1–2 character n-gram analyzer.
pub(crate) const NGRAM: &str = "lvyue_ngram12_v1";
/// Tokenizer name of the whole-value, lowercased analyzer.
pub(crate) const RAW_LOWER: &str = "lvyue_raw_lower_v1";

/// Registers this crate's analyzers on an index. Must run on every open and create.
pub(crate) fn register(index: &tantivy::Index) -> Result<()> {
    let tokenizers = index.tokenizers();
    tokenizers.register(JIEBA, jieba_analyzer(true));
    tokenizers.register(
        NGRAM,
        TextAnalyzer::builder(NgramTokenizer::new(1, 2, false)?)
            .filter(WordCharsOnly)
            .filter(LowerCaser)
            .build(),
    );
    tokenizers.register(
        RAW_LOWER,
        TextAnalyzer::builder(RawTokenizer::default())
            .filter(LowerCaser)
            .build(),
    );
    Ok(())
}

fn jieba_analyzer(search_mode: bool) -> TextAnalyzer {
    TextAnalyzer::builder(JiebaTokenizer::with_search_mode(search_mode))
        .filter(WordCharsOnly)
        .filter(LowerCaser)
        .build()
}

/// The analyzer for query text: jieba in precise mode, so 北京大学 stays one word (and is then
/// matched through bigrams where the index holds only 北京 / 大学 / 北京大学出版社).
pub(crate) fn query_analyzer() -> TextAnalyzer {
    jieba_analyzer(false)
}

/// Cuts query text into distinct lowercased words, in order of first appearance.
pub(crate) fn query_terms(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while let Some(token) = stream.next() {
        if !terms.iter().any(|t| t == &token.text) {
            terms.push(token.text.clone());
        }
    }
    terms
}

/// True when the word holds a CJK ideograph: such words get the bigram fallback. Latin and digit
/// words do not, so that a near-miss identifier cannot match through shared bigrams.
pub(crate) fn has_cjk(word: &str) -> bool {
    word.chars().any(is_cjk)
}

fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{2FA1F}')
}

/// Drops tokens that contain no letter or digit (spaces, punctuation, `*` of masked names).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct WordCharsOnly;

impl TokenFilter for WordCharsOnly {
    type Tokenizer<T: Tokenizer> = WordCharsOnlyTokenizer<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> WordCharsOnlyTokenizer<T> {
        WordCharsOnlyTokenizer { inner: tokenizer }
    }
}

#[derive(Clone)]
pub(crate) struct WordCharsOnlyTokenizer<T> {
    inner: T,
}

impl<T: Tokenizer> Tokenizer for WordCharsOnlyTokenizer<T> {
    type TokenStream<'a> = WordCharsOnlyStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        WordCharsOnlyStream {
            tail: self.inner.token_stream(text),
        }
    }
}

pub(crate) struct WordCharsOnlyStream<T> {
    tail: T,
}

impl<T: TokenStream> TokenStream for WordCharsOnlyStream<T> {
    fn advance(&mut self) -> bool {
        while self.tail.advance() {
            if self.tail.token().text.chars().any(char::is_alphanumeric) {
                return true;
            }
        }
        false
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn index_tokens(text: &str) -> Vec<String> {
        let mut analyzer = jieba_analyzer(true);
        let mut out = Vec::new();
        let mut stream = analyzer.token_stream(text);
        while let Some(t) = stream.next() {
            out.push(t.text.clone());
        }
        out
    }

    #[test]
    fn jieba_tokens_drop_spaces_and_punctuation_and_are_lowercased() {
        let tokens = index_tokens("Acme Driving School 南京分校（二部）");
        assert!(tokens.contains(&"acme".to_string()));
        assert!(tokens.contains(&"南京".to_string()));
        assert!(tokens.iter().all(|t| t.chars().any(char::is_alphanumeric)));
        assert!(!tokens.iter().any(|t| t.chars().any(char::is_uppercase)));
    }

    #[test]
    fn query_terms_keep_dictionary_words_whole_and_deduplicate() {
        let mut analyzer = query_analyzer();
        assert_eq!(query_terms(&mut analyzer, "北京大学"), vec!["北京大学"]);
        assert_eq!(
            query_terms(&mut analyzer, "Acme  南京 acme"),
            vec!["acme", "南京"]
        );
        assert!(query_terms(&mut analyzer, " ，。** ").is_empty());
    }

    #[test]
    fn cjk_detection_ignores_latin_and_digits() {
        assert!(has_cjk("驾校"));
        assert!(has_cjk("a座"));
        assert!(!has_cjk("91110000600037341l"));
    }
}
