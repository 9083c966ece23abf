//! What a GraphQL document asks, as the access record states it: each root field of the
//! operation to run by its own name (an alias is the client's label, not what it read), with
//! its arguments, variables substituted: `order(id: "ord_12")`. Root fields reached through
//! fragments count as the fields they are.
//!
//! Free text among the arguments (a search's `query`) may name a person: it is returned apart,
//! for the record to hold only its commitment, and shown in place as `"…"`.

use std::collections::HashSet;
use std::convert::Infallible;

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, OperationType, Selection,
    SelectionSet,
};
use async_graphql::{Name, Value, Variables};

/// Arguments that hold free text or a personal identifier.
const TEXT_ARGUMENTS: &[&str] = &["query", "idNumber"];
/// Fragments deeper than this are not followed (validation refuses cycles later; this runs
/// first).
const MAX_FRAGMENT_DEPTH: usize = 16;

/// The root fields a document asks for, and the free text among their arguments.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Asked {
    pub fields: Vec<String>,
    pub text: Vec<String>,
    /// The operation changes things (a mutation) rather than reads them.
    pub mutation: bool,
}

/// What `doc` asks when its operation `operation` (or its only one) runs with `variables`.
/// With no such operation, what every operation in it asks.
pub fn asked(doc: &ExecutableDocument, operation: Option<&str>, variables: &Variables) -> Asked {
    let operations: Vec<&OperationDefinition> = match (&doc.operations, operation) {
        (DocumentOperations::Single(op), _) => vec![&op.node],
        (DocumentOperations::Multiple(ops), Some(name)) => match ops.get(name) {
            Some(op) => vec![&op.node],
            None => ops.values().map(|o| &o.node).collect(),
        },
        (DocumentOperations::Multiple(ops), None) => ops.values().map(|o| &o.node).collect(),
    };
    let mut out = Asked::default();
    for op in operations {
        out.mutation |= op.ty == OperationType::Mutation;
        let vars = Vars {
            op,
            given: variables,
        };
        let mut seen = HashSet::new();
        walk(doc, &op.selection_set.node, &vars, 0, &mut seen, &mut out);
    }
    out
}

struct Vars<'a> {
    op: &'a OperationDefinition,
    given: &'a Variables,
}

impl Vars<'_> {
    fn value(&self, name: &Name) -> Value {
        if let Some(v) = self.given.get(name) {
            return v.clone();
        }
        self.op
            .variable_definitions
            .iter()
            .find(|d| d.node.name.node == *name)
            .and_then(|d| d.node.default_value.as_ref())
            .map(|d| d.node.clone())
            .unwrap_or(Value::Null)
    }
}

fn walk(
    doc: &ExecutableDocument,
    set: &SelectionSet,
    vars: &Vars<'_>,
    depth: usize,
    seen: &mut HashSet<String>,
    out: &mut Asked,
) {
    if depth > MAX_FRAGMENT_DEPTH {
        return;
    }
    for item in &set.items {
        match &item.node {
            Selection::Field(f) => {
                let f = &f.node;
                let mut args = Vec::with_capacity(f.arguments.len());
                for (name, value) in &f.arguments {
                    let value = value
                        .node
                        .clone()
                        .into_const_with(|v| Ok::<_, Infallible>(vars.value(&v)));
                    let Ok(value) = value;
                    if TEXT_ARGUMENTS.contains(&name.node.as_str())
                        && let Value::String(text) = &value
                    {
                        out.text.push(text.clone());
                        args.push(format!("{}: \"…\"", name.node));
                    } else {
                        args.push(format!("{}: {value}", name.node));
                    }
                }
                let field = if args.is_empty() {
                    f.name.node.to_string()
                } else {
                    format!("{}({})", f.name.node, args.join(", "))
                };
                if seen.insert(field.clone()) {
                    out.fields.push(field);
                }
            }
            Selection::InlineFragment(frag) => {
                walk(
                    doc,
                    &frag.node.selection_set.node,
                    vars,
                    depth + 1,
                    seen,
                    out,
                );
            }
            Selection::FragmentSpread(spread) => {
                if let Some(frag) = doc.fragments.get(&spread.node.fragment_name.node) {
                    walk(
                        doc,
                        &frag.node.selection_set.node,
                        vars,
                        depth + 1,
                        seen,
                        out,
                    );
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn of(query: &str, operation: Option<&str>, variables: serde_json::Value) -> Asked {
        let doc = async_graphql::parser::parse_query(query).unwrap();
        asked(&doc, operation, &Variables::from_json(variables))
    }

    #[test]
    fn aliases_do_not_hide_what_was_asked() {
        let a = of(
            "query RoutineHealthCheck($o: ID!) { health: order(id: $o) { ref: id } }",
            None,
            serde_json::json!({"o": "ord_12"}),
        );
        assert_eq!(a.fields, [r#"order(id: "ord_12")"#]);
        assert!(a.text.is_empty());
    }

    #[test]
    fn fragments_count_as_their_fields_and_text_is_kept_apart() {
        let a = of(
            r#"query Q { ...Roots ... on Query { apiVersion } }
               fragment Roots on Query { search(query: "段誉", first: 5) { totalCount } }"#,
            None,
            serde_json::json!({}),
        );
        assert_eq!(a.fields, [r#"search(query: "…", first: 5)"#, "apiVersion"]);
        assert_eq!(a.text, ["段誉"]);
    }

    #[test]
    fn an_id_number_is_kept_apart_like_free_text() {
        let a = of(
            "query($c: String!, $i: String) { debtor(caseNo: $c, idNumber: $i) { party { id } } }",
            None,
            serde_json::json!({"c": "(2026)苏0102执1号", "i": "11010519491231002X"}),
        );
        assert_eq!(
            a.fields,
            [r#"debtor(caseNo: "(2026)苏0102执1号", idNumber: "…")"#]
        );
        assert_eq!(a.text, ["11010519491231002X"]);
    }

    #[test]
    fn the_named_operation_and_default_variables() {
        let a = of(
            "query A($n: Int = 3) { orders(first: $n) { totalCount } } query B { merchants { totalCount } }",
            Some("A"),
            serde_json::json!({}),
        );
        assert_eq!(a.fields, ["orders(first: 3)"]);
        assert!(!a.mutation);
        let m = of(
            "mutation { courtFreeze(order: \"ord_1\") { id } }",
            None,
            serde_json::json!({}),
        );
        assert!(m.mutation);
    }
}
