//! The service layer never sees actix: neither its sources nor anything it
//! depends on (read from the workspace's `Cargo.lock`), so a use case can
//! be called from a job, a CLI or a test without a web server.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each package of the lock file with the names of its dependencies.
fn lock_graph(lock: &str) -> BTreeMap<String, Vec<String>> {
    let mut graph: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for block in lock.split("[[package]]").skip(1) {
        let mut name = None;
        let mut deps = vec![];
        let mut in_deps = false;
        for line in block.lines() {
            let line = line.trim();
            if let Some(n) = line.strip_prefix("name = ") {
                name = Some(n.trim_matches('"').to_string());
            } else if line.starts_with("dependencies = [") {
                in_deps = true;
            } else if in_deps && line.starts_with(']') {
                in_deps = false;
            } else if in_deps {
                let dep = line.trim_matches(|c| c == '"' || c == ',');
                if let Some(dep_name) = dep.split_whitespace().next() {
                    deps.push(dep_name.to_string());
                }
            }
        }
        if let Some(n) = name {
            graph.entry(n).or_default().extend(deps);
        }
    }
    graph
}

fn reachable(graph: &BTreeMap<String, Vec<String>>, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_string()];
    while let Some(p) = todo.pop() {
        if seen.insert(p.clone()) {
            todo.extend(graph.get(&p).into_iter().flatten().cloned());
        }
    }
    seen
}

#[test]
fn services_depend_on_no_actix_crate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).expect("Cargo.lock");
    let graph = lock_graph(&lock);
    let deps = reachable(&graph, "sintra-services");
    assert!(
        deps.contains("sintra-persistence"),
        "the walk reads the lock"
    );
    let actix: Vec<_> = deps.iter().filter(|d| d.starts_with("actix")).collect();
    assert!(actix.is_empty(), "sintra-services reaches {actix:?}");
    // The check itself can fail: the HTTP crate does reach actix.
    assert!(reachable(&graph, "sintra-http").contains("actix-web"));
}

#[test]
fn no_service_source_names_actix() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut todo = vec![src];
    let mut files = 0;
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).expect("src readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files += 1;
                let text = std::fs::read_to_string(&path).expect("source");
                // Code names the crates `actix_web`, `actix_multipart`, …;
                // prose may still say "actix".
                assert!(
                    !text.contains("actix_") && !text.contains("actix::"),
                    "{} uses actix",
                    path.display()
                );
            }
        }
    }
    assert!(files > 3);
}
