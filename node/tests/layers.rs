//! The layer order of `node/src`, held against the code.
//!
//! `docs/architecture.md` (section "Layers") writes the order down; this test reads every
//! `crate::…` path in `node/src` and fails on one that runs against it. The rules:
//!
//! - Modules stand in one total order, grouped into layers. A module's **core** (every file
//!   that is not a face) may use only the cores of modules earlier in the order.
//! - A module's **face** (`api.rs`, `pages.rs`, `cli.rs`, anything under a `pages/` folder:
//!   HTTP handlers, console pages and commands) may use the core of any module in its own
//!   layer or below, and never another module's face.
//! - The composition layer (routes, bootstrap, the command line) may use anything: it is the
//!   one place that mounts faces and wires jobs.
//!
//! So there is no loop between modules: cores only point down, and nothing but the
//! composition layer points at a face. Reading is textual (comments skipped, `use` groups
//! expanded), which is enough for paths written as `crate::…`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The layers, bottom up, each with its modules in order.
const LAYERS: &[(&str, &[&str])] = &[
    ("foundation", &["region", "error", "ids", "period", "files", "keys", "config", "db"]),
    ("platform", &["app", "http"]),
    ("identity", &["audit", "credentials", "users", "tenants", "auth", "console", "admin"]),
    (
        "capabilities",
        &["jobs", "notify", "registry", "stats", "trace", "quality", "ingest", "pki", "system", "evaluation", "backup"],
    ),
    ("federation", &["federation"]),
    ("composition", &["bootstrap", "routes", "cli"]),
];

/// Imports that run against the order on purpose: (file, imported path prefix, why).
const ALLOWED: &[(&str, &str, &str)] = &[];

fn position(module: &str) -> Option<(usize, usize)> {
    let mut index = 0;
    for (layer, (_, modules)) in LAYERS.iter().enumerate() {
        for m in *modules {
            if *m == module {
                return Some((layer, index));
            }
            index += 1;
        }
    }
    None
}

/// The macros exported at the crate root, by the module that defines them.
const MACROS: &[(&str, &str)] = &[
    ("insert_rows", "db"),
    ("insert_or_skip", "db"),
    ("on_backend", "db"),
    ("text_contains", "db"),
    ("text_status", "ids"),
];

/// Whether a path names a face: a module segment (before the first type, which starts with a
/// capital) is `api`, `pages` or `cli`.
fn is_face_path(segments: &[String]) -> bool {
    segments
        .iter()
        .skip(1)
        .take_while(|s| !s.starts_with(|c: char| c.is_ascii_uppercase()))
        .any(|s| matches!(s.as_str(), "api" | "pages" | "cli"))
}

fn source_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> =
        std::fs::read_dir(dir).expect("read node/src").map(|e| e.expect("entry").path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            source_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without its comments (line comments and doc comments; block comments
/// are not used in this code base).
fn code_of(text: &str) -> String {
    text.lines()
        .map(|line| {
            let trimmed = line.trim_start();
            if trimmed.starts_with("//") {
                ""
            } else {
                match line.find(" // ") {
                    Some(i) if !line[..i].contains('"') => &line[..i],
                    _ => line,
                }
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident_at(chars: &[char], mut i: usize) -> (String, usize) {
    let start = i;
    while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
        i += 1;
    }
    (chars[start..i].iter().collect(), i)
}

fn skip_space(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() && chars[i].is_whitespace() {
        i += 1;
    }
    i
}

/// Parses a path (and any `{…}` group) at `i`, after `crate::`; pushes every full path.
fn parse_tree(chars: &[char], mut i: usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) -> usize {
    let mut segments = prefix;
    loop {
        i = skip_space(chars, i);
        if i < chars.len() && chars[i] == '{' {
            i += 1;
            loop {
                i = skip_space(chars, i);
                if i >= chars.len() {
                    return i;
                }
                if chars[i] == '}' {
                    return i + 1;
                }
                if chars[i] == ',' {
                    i += 1;
                    continue;
                }
                i = parse_tree(chars, i, segments.clone(), out);
            }
        }
        let (ident, next) = ident_at(chars, i);
        if ident.is_empty() {
            if i < chars.len() && chars[i] == '*' {
                i += 1;
            }
            out.push(segments);
            return i;
        }
        if ident != "self" {
            segments.push(ident);
        }
        i = next;
        let after = skip_space(chars, i);
        if chars.get(after) == Some(&':') && chars.get(after + 1) == Some(&':') {
            i = after + 2;
            continue;
        }
        // `as name` or the end of the path.
        let (word, after_word) = ident_at(chars, skip_space(chars, i));
        if word == "as" {
            let (_, end) = ident_at(chars, skip_space(chars, after_word));
            i = end;
        }
        out.push(segments);
        return i;
    }
}

/// Every path to another top module that a file's code names: `crate::…`, and `super::…`
/// chains that climb to the crate root from a file `depth` modules deep.
fn crate_paths(code: &str, depth: usize) -> Vec<Vec<String>> {
    let chars: Vec<char> = code.chars().collect();
    let starts_with = |i: usize, word: &str| word.chars().enumerate().all(|(k, c)| chars.get(i + k) == Some(&c));
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let preceded_by_ident = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        if !preceded_by_ident && starts_with(i, "crate::") {
            i = parse_tree(&chars, i + "crate::".len(), Vec::new(), &mut out);
        } else if !preceded_by_ident && starts_with(i, "super::") {
            let mut climbed = 0;
            while starts_with(i, "super::") {
                climbed += 1;
                i += "super::".len();
            }
            if climbed >= depth {
                i = parse_tree(&chars, i, Vec::new(), &mut out);
            }
        } else {
            i += 1;
        }
    }
    out.retain(|p| !p.is_empty());
    out
}

/// How many modules deep a file's module is: `error.rs` and `registry/mod.rs` are 1,
/// `registry/api.rs` is 2.
fn depth_of(relative: &Path) -> usize {
    let parts = relative.iter().count();
    if relative.file_name().is_some_and(|f| f == "mod.rs") {
        parts - 1
    } else {
        parts
    }
}

/// Whose file this is: its top module and whether it is a face.
fn owner(relative: &Path) -> (String, bool) {
    let parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned()).collect();
    let face = parts.iter().skip(1).any(|p| matches!(p.as_str(), "api" | "pages" | "cli"));
    (parts[0].clone(), face)
}

fn violation(file: &str, module: &str, face: bool, target: &[String]) -> Option<String> {
    let wanted = MACROS.iter().find(|(name, _)| *name == target[0]).map_or(target[0].as_str(), |(_, m)| m);
    if wanted == module {
        return None;
    }
    let shown = format!("crate::{}", target.join("::"));
    if ALLOWED.iter().any(|(f, prefix, _)| *f == file && shown.starts_with(prefix)) {
        return None;
    }
    let (Some((layer, index)), Some((their_layer, their_index))) = (position(module), position(wanted)) else {
        return Some(format!("{file}: uses {shown}, but a module is missing from the layer order in tests/layers.rs"));
    };
    if LAYERS[layer].0 == "composition" {
        return None;
    }
    if is_face_path(target) {
        return Some(format!("{file}: uses {shown}, another module's face (only the composition layer mounts faces)"));
    }
    let allowed = if face { their_layer <= layer } else { their_index < index };
    (!allowed).then(|| {
        format!(
            "{file}: the {} of `{module}` ({}) uses {shown} (`{wanted}` is {} in the order)",
            if face { "face" } else { "core" },
            LAYERS[layer].0,
            if their_layer > layer {
                format!("in the higher layer {}", LAYERS[their_layer].0)
            } else {
                "later".to_owned()
            },
        )
    })
}

#[test]
fn imports_follow_the_layer_order() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    source_files(&root, &mut files);
    let mut problems = BTreeSet::new();
    let mut seen = 0;
    for path in &files {
        let relative = path.strip_prefix(&root).expect("under src");
        if relative == Path::new("main.rs") || relative == Path::new("lib.rs") {
            continue;
        }
        let file = relative.to_string_lossy().replace('\\', "/");
        let (module, face) = owner(relative);
        if position(&module).is_none() {
            problems.insert(format!("{file}: module `{module}` is missing from the layer order in tests/layers.rs"));
        }
        let text = std::fs::read_to_string(path).expect("read source");
        for target in crate_paths(&code_of(&text), depth_of(relative)) {
            seen += 1;
            problems.extend(violation(&file, &module, face, &target));
        }
    }
    assert!(seen > 500, "the reader found only {seen} crate paths: it is broken");
    assert!(
        problems.is_empty(),
        "{} imports run against the layer order:\n{}",
        problems.len(),
        problems.into_iter().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn the_reader_expands_use_groups_and_skips_comments() {
    let code = code_of(
        "use crate::{a::{b, c::d as e}, f::*};\n// crate::hidden::x\nfn g() { crate::h::i(); } // crate::also_hidden\n/// [`crate::doc`]\n",
    );
    let paths: Vec<String> = crate_paths(&code, 2).into_iter().map(|p| p.join("::")).collect();
    assert_eq!(paths, ["a::b", "a::c::d", "f", "h::i"]);
    // From two modules deep, `super::x` stays inside the module; `super::super::y` is the
    // crate's top module `y`.
    let climbing = code_of("use super::x::Y;\nfn z() { super::super::y::w(); }\n");
    let paths: Vec<String> = crate_paths(&climbing, 2).into_iter().map(|p| p.join("::")).collect();
    assert_eq!(paths, ["y::w"]);
    assert_eq!(depth_of(Path::new("registry/mod.rs")), 1);
    assert_eq!(depth_of(Path::new("registry/products/api.rs")), 3);
}

#[test]
fn the_rules_refuse_what_the_order_forbids() {
    let path = |s: &str| s.split("::").map(str::to_owned).collect::<Vec<_>>();
    // A core may use an earlier core, not a later one.
    assert!(violation("users/accounts.rs", "users", false, &path("audit::append")).is_none());
    assert!(violation("users/accounts.rs", "users", false, &path("auth::session")).is_some());
    // A face may use a core of its own layer, not of a higher one, and no face at all.
    assert!(violation("audit/pages.rs", "audit", true, &path("auth::caller::Caller")).is_none());
    assert!(violation("audit/pages.rs", "audit", true, &path("ingest::jobs")).is_some());
    assert!(violation("ingest/pages.rs", "ingest", true, &path("registry::api::owning_tenant")).is_some());
    // The composition layer may use anything; an unknown module is named.
    assert!(violation("routes/mod.rs", "routes", false, &path("registry::api::routes")).is_none());
    assert!(violation("x/mod.rs", "x", false, &path("db")).is_some());
}
