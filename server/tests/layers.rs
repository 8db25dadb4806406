//! The layering of `server/ARCHITECTURE.md`, checked: a module may only use the layers below it.
//! A new `use` that points up fails here with the file and the line, before it becomes a knot.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

/// Each layer (a folder or file under `src/`) and the layers it must never reach.
const FORBIDDEN: &[(&str, &[&str])] = &[
    // The floor: knows no feature and no HTTP.
    (
        "platform",
        &[
            "app",
            "router",
            "http",
            "management",
            "authn",
            "authz",
            "audit",
            "jobs",
            "signin",
        ],
    ),
    // Who is calling: below authorization, audit and every feature.
    (
        "authn",
        &[
            "app",
            "router",
            "http",
            "management",
            "audit",
            "jobs",
            "signin",
        ],
    ),
    // What they may do.
    (
        "authz",
        &["router", "http", "management", "audit", "jobs", "signin"],
    ),
    // The chain and its writer: records principals, decides nothing.
    (
        "audit",
        &["router", "management", "authz", "jobs", "signin"],
    ),
    ("jobs", &["router", "http", "signin"]),
    // The detector reads the chain and appends to it; rules are management's to edit.
    (
        "anomaly",
        &["router", "http", "management", "authn", "authz", "signin"],
    ),
    // The edge: extractors and middleware, no feature.
    ("http", &["router", "management", "jobs", "signin"]),
    // Features: management does not reach into sign-in (sign-in reads connections from it).
    ("management", &["router", "signin", "console"]),
    // The web console's pages are shells over the API: what a page shows and does goes through
    // the `/v1` handlers, so the console reads no feature's data and decides no authorization.
    (
        "console",
        &[
            "router",
            "management",
            "authz",
            "audit",
            "jobs",
            "anomaly",
            "oauth",
        ],
    ),
];

/// Route modules are features: they stand on the HTTP edge like `management/` does.
const ROUTE_MODULES: &[&str] = &[
    "authn/routes.rs",
    "audit/routes.rs",
    "audit/settings.rs",
    "audit/sinks/routes.rs",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The upward imports in one file of `layer` (`relative` to `src/`).
fn violations_in(layer: &str, relative: &str, text: &str) -> Vec<String> {
    let forbidden = FORBIDDEN
        .iter()
        .find(|(l, _)| *l == layer)
        .map_or(&[][..], |f| f.1);
    let route_module = ROUTE_MODULES.contains(&relative);
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        for target in forbidden {
            if route_module && ["http", "management", "app", "authz"].contains(target) {
                continue;
            }
            if code.contains(&format!("crate::{target}::"))
                || code.contains(&format!("crate::{target};"))
                || code.contains(&format!("crate::{target}}}"))
            {
                found.push(format!("src/{relative}:{}: {layer} uses {target}", n + 1));
            }
        }
    }
    found
}

#[test]
fn no_layer_reaches_up() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut violations = Vec::new();
    for (layer, _) in FORBIDDEN {
        let root = src.join(layer);
        let mut files = Vec::new();
        if root.is_dir() {
            rust_files(&root, &mut files);
        } else {
            files.push(root.with_extension("rs"));
        }
        assert!(!files.is_empty(), "layer {layer} has no files");
        for file in files {
            let relative = file
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(&file).unwrap();
            violations.extend(violations_in(layer, &relative, &text));
        }
    }
    assert!(
        violations.is_empty(),
        "imports that point up a layer (see server/ARCHITECTURE.md):\n{}",
        violations.join("\n")
    );
}

/// The check sees what it should: planted upward imports are caught, comments and the route
/// modules' own edge are not.
#[test]
fn the_check_catches_an_upward_import() {
    let planted = "use crate::management::api_keys::KeyStatus;\nlet x = crate::http::Caller;";
    assert_eq!(violations_in("authn", "authn/cache.rs", planted).len(), 2);
    assert_eq!(
        violations_in("platform", "platform/db.rs", "use crate::{authz::scopes};").len(),
        0
    );
    assert_eq!(
        violations_in("platform", "platform/db.rs", "use crate::authz;").len(),
        1
    );
    assert!(violations_in("authn", "authn/x.rs", "// see crate::http::Caller").is_empty());
    assert!(violations_in("authn", "authn/routes.rs", "use crate::http::Caller;").is_empty());
}
