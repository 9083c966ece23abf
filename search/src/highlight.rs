//! Highlighting: marks the query's words in stored text with `<b>…</b>`, HTML-escaped.
//!
//! tantivy's `SnippetGenerator` highlights only the tokens its analyzer re-derives from the
//! text, so a word found through bigrams (北京大学 inside 北京大学出版社) would not be marked.
//! Matching the query words as case-insensitive substrings marks exactly what the user typed.

/// Longest snippet, in characters (not counting markup and ellipses).
pub const SNIPPET_MAX_CHARS: usize = 120;
/// Characters of context kept before the first match when a snippet is cut.
const SNIPPET_LEAD_CHARS: usize = 20;

/// Highlights `words` (already lowercased) in `text`, keeping at most [`SNIPPET_MAX_CHARS`]
/// characters around the first match. Returns the snippet and whether anything was marked.
pub(crate) fn snippet(text: &str, words: &[String]) -> (String, bool) {
    let chars: Vec<char> = text.chars().collect();
    let marks = marked(&chars, words);
    let first = marks.iter().position(|&m| m);
    let (start, end) = if chars.len() <= SNIPPET_MAX_CHARS {
        (0, chars.len())
    } else {
        let start = first
            .map(|p| p.saturating_sub(SNIPPET_LEAD_CHARS))
            .unwrap_or(0)
            .min(chars.len() - SNIPPET_MAX_CHARS);
        (start, start + SNIPPET_MAX_CHARS)
    };
    let mut html = String::with_capacity(text.len() + 16);
    if start > 0 {
        html.push('…');
    }
    let mut open = false;
    for i in start..end {
        if marks[i] && !open {
            html.push_str("<b>");
            open = true;
        } else if !marks[i] && open {
            html.push_str("</b>");
            open = false;
        }
        push_escaped(&mut html, chars[i]);
    }
    if open {
        html.push_str("</b>");
    }
    if end < chars.len() {
        html.push('…');
    }
    (html, first.is_some())
}

/// One flag per character: is it inside an occurrence of one of the words?
fn marked(chars: &[char], words: &[String]) -> Vec<bool> {
    let lower: Vec<char> = chars.iter().map(|&c| fold(c)).collect();
    let mut marks = vec![false; chars.len()];
    for word in words {
        let w: Vec<char> = word.chars().map(fold).collect();
        if w.is_empty() || w.len() > lower.len() {
            continue;
        }
        for start in 0..=lower.len() - w.len() {
            if lower[start..start + w.len()] == w[..] {
                marks[start..start + w.len()].fill(true);
            }
        }
    }
    marks
}

/// One-to-one lowercasing, so positions in the folded text are positions in the original.
fn fold(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '"' => out.push_str("&quot;"),
        '\'' => out.push_str("&#39;"),
        _ => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(ws: &[&str]) -> Vec<String> {
        ws.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn marks_words_case_insensitively_and_merges_neighbours() {
        let (html, hit) = snippet("Acme驾驶培训", &words(&["acme", "驾驶", "培训"]));
        assert!(hit);
        assert_eq!(html, "<b>Acme驾驶培训</b>");
    }

    #[test]
    fn escapes_html_inside_and_outside_marks() {
        let (html, _) = snippet("<a>&驾校", &words(&["驾校", "<a>"]));
        assert_eq!(html, "<b>&lt;a&gt;</b>&amp;<b>驾校</b>");
        let (html, _) = snippet("'\"", &[]);
        assert_eq!(html, "&#39;&quot;");
    }

    #[test]
    fn long_text_is_cut_around_the_first_match() {
        let text = format!("{}驾校{}", "甲".repeat(300), "乙".repeat(300));
        let (html, hit) = snippet(&text, &words(&["驾校"]));
        assert!(hit);
        assert!(html.starts_with('…') && html.ends_with('…'));
        assert!(html.contains("<b>驾校</b>"));
        assert_eq!(
            html.replace("<b>", "").replace("</b>", "").chars().count(),
            SNIPPET_MAX_CHARS + 2
        );
    }

    #[test]
    fn no_match_gives_the_head_of_the_text() {
        let (html, hit) = snippet("科目二培训费", &words(&["食堂"]));
        assert!(!hit);
        assert_eq!(html, "科目二培训费");
    }
}
