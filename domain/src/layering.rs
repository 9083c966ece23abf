//! The domain's modules form layers (docs/architecture.md): each imports only modules below it,
//! so a newcomer can read any module knowing only what is beneath. This test reads the sources
//! of the domain and of the API crate and fails on an import cycle between top-level modules,
//! naming it. Tests are left out: a test may drive any module.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The top-level module of `crate_dir` each non-test source file belongs to, and the modules it
/// names.
fn imports(crate_dir: &str) -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(crate_dir)
        .join("src");
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if path.file_name().unwrap() != "tests" {
                    stack.push(path);
                }
                continue;
            }
            let rel = path.strip_prefix(&src).unwrap();
            let name = rel.file_name().unwrap().to_str().unwrap();
            if !name.ends_with(".rs") || matches!(name, "tests.rs" | "testing.rs" | "layering.rs") {
                continue;
            }
            let first = rel.iter().next().unwrap().to_str().unwrap();
            let module = first.trim_end_matches(".rs").to_owned();
            if module == "lib" || module == "main" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            // Unit tests sit at the end of a file, after `#[cfg(test)]`.
            let code = text.split("#[cfg(test)]").next().unwrap();
            let named = out.entry(module.clone()).or_default();
            for line in code.lines() {
                let line = line.split("//").next().unwrap();
                named.extend(crate_paths(line));
            }
            named.remove(&module);
        }
    }
    let modules: BTreeSet<String> = out.keys().cloned().collect();
    for named in out.values_mut() {
        named.retain(|m| modules.contains(m));
    }
    out
}

/// The first segment of every `crate::…` path on a line, including each of `crate::{a, b::c}`.
fn crate_paths(line: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut found = Vec::new();
    for (i, _) in line.match_indices("crate::") {
        let rest = &line[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut start = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && !c.is_whitespace() => {
                        found.push(ident(&group[j..]));
                        start = false;
                    }
                    _ => {}
                }
            }
        } else {
            found.push(ident(rest));
        }
    }
    found
}

/// The first import cycle found, as the modules along it.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        graph: &BTreeMap<String, BTreeSet<String>>,
        at: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(k) = path.iter().position(|m| m == at) {
            let mut c = path[k..].to_vec();
            c.push(at.to_owned());
            return Some(c);
        }
        if done.contains(at) {
            return None;
        }
        path.push(at.to_owned());
        for next in graph.get(at).into_iter().flatten() {
            if let Some(c) = visit(graph, next, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(at.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|m| visit(graph, m, &mut Vec::new(), &mut done))
}

#[test]
fn the_domain_s_modules_import_each_other_without_a_cycle() {
    let graph = imports(".");
    assert!(graph.len() > 40, "modules found: {:?}", graph.keys());
    assert!(graph["order"].contains("gate"), "the reader misses imports");
    if let Some(c) = cycle(&graph) {
        panic!("import cycle in domain/src: {}", c.join(" → "));
    }
}

#[test]
fn the_api_s_modules_import_each_other_without_a_cycle() {
    let graph = imports("../api");
    assert!(graph.len() > 15, "modules found: {:?}", graph.keys());
    assert!(
        graph["server"].contains("state"),
        "the reader misses imports"
    );
    if let Some(c) = cycle(&graph) {
        panic!("import cycle in api/src: {}", c.join(" → "));
    }
}

#[test]
fn the_cycle_finder_finds_one() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(m, to)| (m.to_owned(), to.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(cycle(&graph).unwrap(), ["a", "b", "c", "a"]);
    assert_eq!(
        crate_paths("use crate::{a::B, c, d::{e, f}}; crate::g::h(crate::i)"),
        ["a", "c", "d", "g", "i"]
    );
}
