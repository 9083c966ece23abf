//! The request policy, as an async-graphql extension on every query, mutation and
//! subscription (HTTP and WebSocket alike):
//!
//! 1. before parsing, the raw text may nest brackets at most [`MAX_NESTING`] deep (the parser
//!    recurses per bracket, so a megabyte of `{` would otherwise exhaust the stack);
//! 2. after parsing and before async-graphql's validation, the document's cost is computed
//!    with fragments expanded but memoised, so a fragment bomb (each fragment spreading the next
//!    twice) is refused in linear time instead of being walked exponentially by the validator:
//!    expanded fields ([`MAX_EXPANDED_FIELDS`]), aliases, directives and depth;
//! 3. after validation, async-graphql's own depth and complexity (which count per-field costs
//!    such as a connection's page size) are checked against the configured limits;
//! 4. on the way out, every error gets its `extensions.code` ([`crate::error::finalize`]) and is
//!    counted in the metrics.
//!
//! Limit breaches are `LIMIT_EXCEEDED`. async-graphql's own `limit_depth`/`limit_complexity`
//! are not used: their errors carry no code.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest, NextRequest, NextSubscribe,
    NextValidation,
};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Request, Response, ServerError, ServerResult, ValidationResult};
use futures_util::StreamExt as _;
use futures_util::stream::BoxStream;

use crate::config::Limits;
use crate::error::{self, ErrorCode};
use crate::metrics::Metrics;

/// Deepest bracket nesting (`{`, `[`, `(`) in the raw query text, and deepest nesting of
/// selection sets and fragment spreads. async-graphql's parser stops at 64 selection sets.
pub const MAX_NESTING: usize = 64;
/// Most fields a document may have once its fragments are expanded (operations plus fragment
/// definitions, which the validator also walks).
pub const MAX_EXPANDED_FIELDS: u64 = 10_000;
/// Most directives in a document, expanded.
pub const MAX_DIRECTIVES: u64 = 64;

/// The configured limits the policy enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_aliases: usize,
}

impl From<&Limits> for QueryLimits {
    fn from(l: &Limits) -> QueryLimits {
        QueryLimits {
            max_depth: l.query_max_depth,
            max_complexity: l.query_max_complexity,
            max_aliases: l.query_max_aliases,
        }
    }
}

/// The extension factory; register with `SchemaBuilder::extension`.
#[derive(Clone)]
pub struct RequestPolicy {
    limits: QueryLimits,
    metrics: Option<Arc<Metrics>>,
}

impl RequestPolicy {
    pub fn new(limits: QueryLimits, metrics: Option<Arc<Metrics>>) -> RequestPolicy {
        RequestPolicy { limits, metrics }
    }
}

impl ExtensionFactory for RequestPolicy {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(self.clone())
    }
}

fn limit(message: impl Into<String>) -> ServerError {
    error::server_error(ErrorCode::LimitExceeded, message)
}

fn finish(metrics: Option<&Metrics>, mut response: Response) -> Response {
    error::finalize(&mut response.errors);
    if let Some(m) = metrics {
        for e in &response.errors {
            m.graphql_error(error::code_of(e).unwrap_or("INTERNAL"));
        }
    }
    response
}

#[async_graphql::async_trait::async_trait]
impl Extension for RequestPolicy {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        finish(self.metrics.as_deref(), next.run(ctx).await)
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let metrics = self.metrics.clone();
        next.run(ctx, stream)
            .map(move |r| finish(metrics.as_deref(), r))
            .boxed()
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        check_document(&mut request, self.limits)?;
        next.run(ctx, request).await
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        if result.depth > self.limits.max_depth {
            return Err(vec![limit(format!(
                "query is nested {} deep; the limit is {}",
                result.depth, self.limits.max_depth
            ))]);
        }
        if result.complexity > self.limits.max_complexity {
            return Err(vec![limit(format!(
                "query complexity is {}; the limit is {}",
                result.complexity, self.limits.max_complexity
            ))]);
        }
        Ok(result)
    }
}

/// Checks the raw text and the parsed document, and leaves the parsed document in the
/// request so it is not parsed twice.
fn check_document(request: &mut Request, limits: QueryLimits) -> ServerResult<()> {
    check_nesting(&request.query)?;
    let doc = async_graphql::parser::parse_query(&request.query).map_err(|e| match e {
        async_graphql::parser::Error::RecursionLimitExceeded => limit("query is nested too deep"),
        // A syntax error: finalize() gives it VALIDATION.
        other => ServerError::from(other),
    })?;
    let cost = DocumentCost::of(&doc)?;
    if cost.fields > MAX_EXPANDED_FIELDS {
        return Err(limit(format!(
            "query selects {} fields once fragments are expanded; the limit is {MAX_EXPANDED_FIELDS}",
            cost.fields
        )));
    }
    if cost.aliases > limits.max_aliases as u64 {
        return Err(limit(format!(
            "query uses {} aliases; the limit is {}",
            cost.aliases, limits.max_aliases
        )));
    }
    if cost.directives > MAX_DIRECTIVES {
        return Err(limit(format!(
            "query uses {} directives; the limit is {MAX_DIRECTIVES}",
            cost.directives
        )));
    }
    if cost.depth > limits.max_depth as u64 {
        return Err(limit(format!(
            "query is nested {} deep; the limit is {}",
            cost.depth, limits.max_depth
        )));
    }
    super::trail::asked(super::asked::asked(
        &doc,
        request.operation_name.as_deref(),
        &request.variables,
    ));
    request.set_parsed_query(doc);
    Ok(())
}

/// Refuses text whose brackets nest deeper than [`MAX_NESTING`], skipping strings and comments.
fn check_nesting(query: &str) -> ServerResult<()> {
    let b = query.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' if b[i..].starts_with(b"\"\"\"") => {
                // Block string: ends at an unescaped """.
                i += 3;
                while i < b.len() {
                    if b[i..].starts_with(b"\\\"\"\"") {
                        i += 4;
                    } else if b[i..].starts_with(b"\"\"\"") {
                        i += 2;
                        break;
                    } else {
                        i += 1;
                    }
                }
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' && b[i] != b'\n' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(limit(format!(
                        "query nests brackets more than {MAX_NESTING} deep"
                    )));
                }
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// What a document costs with its fragments expanded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Cost {
    /// Fields in operations and fragment definitions, expanded.
    fields: u64,
    /// Aliased fields in operations, expanded.
    aliases: u64,
    /// Directives in operations, expanded.
    directives: u64,
    /// Deepest field nesting, as async-graphql counts it (`{ a { b } }` is 2).
    depth: u64,
    /// Deepest nesting of selection sets and spreads.
    height: u64,
}

impl Cost {
    fn add(&mut self, o: Cost) {
        self.fields = self.fields.saturating_add(o.fields);
        self.aliases = self.aliases.saturating_add(o.aliases);
        self.directives = self.directives.saturating_add(o.directives);
        self.depth = self.depth.max(o.depth);
        self.height = self.height.max(o.height);
    }
}

struct DocumentCost<'a> {
    doc: &'a ExecutableDocument,
    /// `None` while a fragment is being walked: meeting it again is a cycle.
    memo: HashMap<&'a str, Option<Cost>>,
}

impl<'a> DocumentCost<'a> {
    fn of(doc: &'a ExecutableDocument) -> ServerResult<Cost> {
        let mut walker = DocumentCost {
            doc,
            memo: HashMap::new(),
        };
        let mut total = Cost::default();
        for (_, op) in doc.operations.iter() {
            let mut c = walker.selection_set(&op.node.selection_set.node, 1)?;
            c.directives = c.directives.saturating_add(op.node.directives.len() as u64);
            total.add(c);
        }
        // The validator walks fragment definitions too: count their fields (only), so unused
        // fragment bombs are refused as well.
        for name in doc.fragments.keys() {
            let c = walker.fragment(name.as_str(), 1)?;
            total.fields = total.fields.saturating_add(c.fields);
        }
        Ok(total)
    }

    fn selection_set(&mut self, set: &'a SelectionSet, nesting: usize) -> ServerResult<Cost> {
        if nesting > MAX_NESTING {
            return Err(limit("query is nested too deep"));
        }
        let mut total = Cost::default();
        for item in &set.items {
            let c = match &item.node {
                Selection::Field(f) => {
                    let f = &f.node;
                    let child = self.selection_set(&f.selection_set.node, nesting + 1)?;
                    Cost {
                        fields: child.fields.saturating_add(1),
                        aliases: child.aliases.saturating_add(u64::from(f.alias.is_some())),
                        directives: child.directives.saturating_add(f.directives.len() as u64),
                        depth: child.depth + 1,
                        height: child.height + 1,
                    }
                }
                Selection::InlineFragment(inline) => {
                    let mut child =
                        self.selection_set(&inline.node.selection_set.node, nesting + 1)?;
                    child.directives = child
                        .directives
                        .saturating_add(inline.node.directives.len() as u64);
                    child.height += 1;
                    child
                }
                Selection::FragmentSpread(spread) => {
                    let mut c =
                        self.fragment(spread.node.fragment_name.node.as_str(), nesting + 1)?;
                    c.directives = c
                        .directives
                        .saturating_add(spread.node.directives.len() as u64);
                    c
                }
            };
            total.add(c);
        }
        Ok(total)
    }

    fn fragment(&mut self, name: &'a str, nesting: usize) -> ServerResult<Cost> {
        match self.memo.get(name) {
            Some(Some(c)) => {
                if nesting as u64 + c.height > MAX_NESTING as u64 {
                    return Err(limit("query is nested too deep"));
                }
                return Ok(*c);
            }
            Some(None) => {
                return Err(error::server_error(
                    ErrorCode::Validation,
                    format!("fragment {name} spreads itself"),
                ));
            }
            None => {}
        }
        // An unknown fragment costs nothing here; the validator reports it.
        let Some(def) = self.doc.fragments.get(name) else {
            return Ok(Cost::default());
        };
        self.memo.insert(name, None);
        let mut c = self.selection_set(&def.node.selection_set.node, nesting)?;
        c.directives = c
            .directives
            .saturating_add(def.node.directives.len() as u64);
        c.height += 1;
        self.memo.insert(name, Some(c));
        Ok(c)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const LIMITS: QueryLimits = QueryLimits {
        max_depth: 16,
        max_complexity: 5_000,
        max_aliases: 64,
    };

    fn check(query: &str) -> Result<(), String> {
        let mut r = Request::new(query);
        check_document(&mut r, LIMITS).map_err(|e| {
            assert!(
                matches!(
                    error::code_of(&e),
                    Some("LIMIT_EXCEEDED" | "VALIDATION") | None
                ),
                "{e:?}"
            );
            format!("{}: {}", error::code_of(&e).unwrap_or("-"), e.message)
        })
    }

    #[test]
    fn ordinary_queries_pass() {
        check("{ me { subject role jurisdiction { regions } } }").unwrap();
        check("query Q($a: String = \"{{{{{{{{\") { a: me { subject } } # {{{{{{{").unwrap();
        check("fragment F on Me { subject } { me { ...F ... on Me { role } } }").unwrap();
    }

    #[test]
    fn bracket_bombs_are_refused_before_parsing() {
        let bomb = "{".repeat(200_000);
        assert!(check(&bomb).unwrap_err().starts_with("LIMIT_EXCEEDED"));
        let list_bomb = format!("{{ f(a: {}) }}", "[".repeat(200_000));
        assert!(check(&list_bomb).unwrap_err().starts_with("LIMIT_EXCEEDED"));
    }

    #[test]
    fn fragment_bombs_are_refused_in_linear_time() {
        let mut q = String::from("{ ...F0 }\n");
        for i in 0..40 {
            q.push_str(&format!(
                "fragment F{i} on Query {{ ...F{} ...F{} }}\n",
                i + 1,
                i + 1
            ));
        }
        q.push_str("fragment F40 on Query { apiVersion }\n");
        assert!(check(&q).unwrap_err().starts_with("LIMIT_EXCEEDED"));
    }

    #[test]
    fn long_fragment_chains_are_refused_without_deep_recursion() {
        let mut q = String::from("{ ...F0 }\n");
        for i in 0..5_000 {
            q.push_str(&format!("fragment F{i} on Query {{ ...F{} }}\n", i + 1));
        }
        q.push_str("fragment F5000 on Query { apiVersion }\n");
        assert!(check(&q).unwrap_err().starts_with("LIMIT_EXCEEDED"));
    }

    #[test]
    fn fragment_cycles_are_refused() {
        let q = "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }";
        assert!(check(q).unwrap_err().starts_with("VALIDATION"));
    }

    #[test]
    fn alias_bombs_are_refused() {
        let q = format!(
            "{{ {} }}",
            (0..65)
                .map(|i| format!("a{i}: apiVersion"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        assert!(check(&q).unwrap_err().starts_with("LIMIT_EXCEEDED"));
    }

    #[test]
    fn depth_is_counted_like_async_graphql() {
        let deep = |n: usize| format!("{}{}", "{ a ".repeat(n - 1) + "{ b", " }".repeat(n));
        check(&deep(16)).unwrap();
        assert!(check(&deep(17)).unwrap_err().starts_with("LIMIT_EXCEEDED"));
    }
}
