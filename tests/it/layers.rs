//! The layers of `src/` (`docs/architecture.md`), checked by reading the sources, so a
//! forbidden import fails the suite naming the file and line:
//!
//! - `domain` refers to nothing of the crate but `domain`, and not to tokio, sqlx, lettre or
//!   axum;
//! - `app` refers to no adapter (`storage`, `http`, `mail`, `bounce::sources`) nor to
//!   `startup` or `cli`, and not to sqlx, axum or lettre;
//! - `render` refers to nothing of `app`, `mail`, `storage` or `http`;
//! - `bounce::parse` refers to nothing of `app`, `storage`, `http`, `mail` or
//!   `bounce::sources`, and not to tokio.
//!
//! Every path is found, not only `use` lines: `crate::…` / `$crate::…` anywhere in code,
//! `use crate::{a, b::{c, d}}` groups expanded, `super::super::…` and `self::…` resolved from
//! the file's module (inline `mod x { … }` blocks included). Comments and string literals are
//! skipped. What this cannot see: a path relative to a module imported by an allowed path
//! (`use crate::bounce; bounce::sources::…`), which no file does.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layer {
    Domain,
    App,
    Render,
    Parse,
}

impl Layer {
    /// The layer of a file, from its path under `src/`.
    fn of(rel: &str) -> Option<Layer> {
        let rel = rel.replace('\\', "/");
        if rel.starts_with("domain/") {
            Some(Layer::Domain)
        } else if rel.starts_with("app/") {
            Some(Layer::App)
        } else if rel.starts_with("render/") {
            Some(Layer::Render)
        } else if rel.starts_with("bounce/parse/") {
            Some(Layer::Parse)
        } else {
            None
        }
    }

    fn name(self) -> &'static str {
        match self {
            Layer::Domain => "domain",
            Layer::App => "app",
            Layer::Render => "render",
            Layer::Parse => "bounce::parse",
        }
    }

    /// Whether a crate path (segments after `crate::`) is off limits.
    fn forbids(self, path: &[String]) -> bool {
        let starts = |prefix: &[&str]| {
            path.len() >= prefix.len() && prefix.iter().zip(path).all(|(a, b)| a == b)
        };
        match self {
            Layer::Domain => !path.is_empty() && !starts(&["domain"]),
            Layer::App => [
                &["storage"][..],
                &["http"],
                &["mail"],
                &["bounce", "sources"],
                &["startup"],
                &["cli"],
            ]
            .iter()
            .any(|p| starts(p)),
            Layer::Render => [&["app"][..], &["mail"], &["storage"], &["http"]]
                .iter()
                .any(|p| starts(p)),
            Layer::Parse => [
                &["app"][..],
                &["storage"],
                &["http"],
                &["mail"],
                &["bounce", "sources"],
            ]
            .iter()
            .any(|p| starts(p)),
        }
    }

    fn forbidden_crates(self) -> &'static [&'static str] {
        match self {
            Layer::Domain => &["tokio", "sqlx", "lettre", "axum"],
            Layer::App => &["sqlx", "axum", "lettre"],
            Layer::Render => &[],
            Layer::Parse => &["tokio"],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    text: String,
    line: usize,
}

/// Identifiers, `$crate`, `::` and single punctuation characters, with their lines; comments,
/// string / char literals, lifetimes and numbers are dropped.
fn tokens(src: &str) -> Vec<Token> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    let ident_start = |ch: char| ch == '_' || ch.is_alphabetic();
    let ident_char = |ch: char| ch == '_' || ch.is_alphanumeric();
    // Skips a quoted literal starting at `c[i] == '"'`; returns the index after it.
    let skip_string = |mut i: usize, line: &mut usize| {
        i += 1;
        while i < c.len() && c[i] != '"' {
            if c[i] == '\\' {
                i += 1;
            }
            if i < c.len() && c[i] == '\n' {
                *line += 1;
            }
            i += 1;
        }
        i + 1
    };
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && c.get(i + 1) == Some(&'*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if c[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if ch == '"' {
            i = skip_string(i, &mut line);
        } else if ch == '\'' {
            if c.get(i + 1) == Some(&'\\') {
                // An escaped char literal: '\n', '\'', '\u{1F600}'.
                i += 3;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if c.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                // A lifetime or label: `'a`, `'static`.
                i += 1;
                while i < c.len() && ident_char(c[i]) {
                    i += 1;
                }
            }
        } else if ch.is_ascii_digit() {
            while i < c.len()
                && (ident_char(c[i])
                    || c[i] == '.' && c.get(i + 1).is_some_and(char::is_ascii_digit))
            {
                i += 1;
            }
        } else if ident_start(ch) {
            let start = i;
            while i < c.len() && ident_char(c[i]) {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            let next = c.get(i).copied();
            match (word.as_str(), next) {
                ("r" | "br" | "cr", Some('"' | '#')) => {
                    let mut hashes = 0;
                    while c.get(i) == Some(&'#') {
                        hashes += 1;
                        i += 1;
                    }
                    if c.get(i) != Some(&'"') {
                        // `r#ident`: a raw identifier.
                        let s = i;
                        while i < c.len() && ident_char(c[i]) {
                            i += 1;
                        }
                        out.push(Token {
                            text: c[s..i].iter().collect(),
                            line,
                        });
                        continue;
                    }
                    i += 1;
                    loop {
                        if i >= c.len() {
                            break;
                        }
                        if c[i] == '"' && (0..hashes).all(|k| c.get(i + 1 + k) == Some(&'#')) {
                            i += 1 + hashes;
                            break;
                        }
                        if c[i] == '\n' {
                            line += 1;
                        }
                        i += 1;
                    }
                }
                ("b" | "c", Some('"')) => i = skip_string(i, &mut line),
                ("b", Some('\'')) => {
                    i += 1;
                    if c.get(i) == Some(&'\\') {
                        i += 2;
                    } else {
                        i += 1;
                    }
                    while i < c.len() && c[i] != '\'' {
                        i += 1;
                    }
                    i += 1;
                }
                _ => out.push(Token { text: word, line }),
            }
        } else if ch == '$' && c.get(i + 1..i + 6) == Some(&['c', 'r', 'a', 't', 'e'][..]) {
            out.push(Token {
                text: "$crate".into(),
                line,
            });
            i += 6;
        } else if ch == ':' && c.get(i + 1) == Some(&':') {
            out.push(Token {
                text: "::".into(),
                line,
            });
            i += 2;
        } else {
            out.push(Token {
                text: ch.to_string(),
                line,
            });
            i += 1;
        }
    }
    out
}

fn is_ident(t: &str) -> bool {
    t.chars()
        .next()
        .is_some_and(|c| c == '_' || c.is_alphabetic())
}

/// The path trees starting at `toks[i]`: `a::b::c`, `a::{b, c::{d, self}}`, `a::*`.
fn path_trees(toks: &[Token], mut i: usize) -> Vec<Vec<String>> {
    let mut segs: Vec<String> = Vec::new();
    loop {
        let Some(t) = toks.get(i) else {
            return vec![segs];
        };
        if t.text == "{" {
            let mut out = Vec::new();
            i += 1;
            let mut depth = 0;
            let mut item_start = i;
            while let Some(t) = toks.get(i) {
                match t.text.as_str() {
                    "{" => depth += 1,
                    "}" if depth == 0 => break,
                    "}" => depth -= 1,
                    "," if depth == 0 => {
                        out.extend(group_item(toks, item_start, &segs));
                        item_start = i + 1;
                    }
                    _ => {}
                }
                i += 1;
            }
            out.extend(group_item(toks, item_start, &segs));
            return out;
        }
        if t.text == "*" {
            segs.push("*".into());
            return vec![segs];
        }
        if !is_ident(&t.text) && t.text != "$crate" {
            return vec![segs];
        }
        segs.push(t.text.clone());
        if toks.get(i + 1).map(|t| t.text.as_str()) == Some("::") {
            i += 2;
        } else {
            return vec![segs];
        }
    }
}

fn group_item(toks: &[Token], start: usize, prefix: &[String]) -> Vec<Vec<String>> {
    match toks.get(start).map(|t| t.text.as_str()) {
        None | Some("}") | Some(",") => Vec::new(),
        Some("self") => vec![prefix.to_vec()],
        Some(_) => path_trees(toks, start)
            .into_iter()
            .map(|p| prefix.iter().cloned().chain(p).collect())
            .collect(),
    }
}

/// A path as written, resolved to segments after the crate root; `None` when it is relative
/// to something else (an extern crate, an imported name, a local).
fn resolve(path: &[String], module: &[String]) -> Option<Vec<String>> {
    match path.first().map(String::as_str) {
        Some("crate" | "$crate") => Some(path[1..].to_vec()),
        Some("self") => Some(module.iter().chain(&path[1..]).cloned().collect()),
        Some("super") => {
            let ups = path.iter().take_while(|s| *s == "super").count();
            let base = module.len().checked_sub(ups)?;
            Some(module[..base].iter().chain(&path[ups..]).cloned().collect())
        }
        _ => None,
    }
}

/// The module path of a file under `src/`: `app/ports/mod.rs` → `app::ports`.
fn module_of(rel: &str) -> Vec<String> {
    let rel = rel.replace('\\', "/");
    let rel = rel.strip_suffix(".rs").unwrap_or(&rel);
    let mut segs: Vec<String> = rel.split('/').map(str::to_owned).collect();
    if segs.last().is_some_and(|s| s == "mod" || s == "lib") {
        segs.pop();
    }
    segs
}

/// Every layering violation in one file, as `file:line: what`.
fn check(rel: &str, src: &str) -> Vec<String> {
    let Some(layer) = Layer::of(rel) else {
        return Vec::new();
    };
    let toks = tokens(src);
    let file_module = module_of(rel);
    let mut found = Vec::new();
    // Inline modules: (name, brace depth at which they opened).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut pending_mod: Option<String> = None;
    for (i, t) in toks.iter().enumerate() {
        let text = t.text.as_str();
        let prev = i.checked_sub(1).map(|p| toks[p].text.as_str());
        let next = toks.get(i + 1).map(|t| t.text.as_str());
        match text {
            "{" => {
                depth += 1;
                if let Some(name) = pending_mod.take() {
                    inline.push((name, depth));
                }
                continue;
            }
            "}" => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
                continue;
            }
            ";" => pending_mod = None,
            "mod" => {
                if let Some(name) = next.filter(|n| is_ident(n)) {
                    pending_mod = Some(name.to_owned());
                }
            }
            _ => {}
        }
        // An extern crate named at the start of a path, in `use`, or by `extern crate`.
        if layer.forbidden_crates().contains(&text) {
            let leading_colons = prev == Some("::")
                && i.checked_sub(2)
                    .is_none_or(|p| !is_ident(&toks[p].text) && toks[p].text != ">");
            let starts_path = next == Some("::") && (prev != Some("::") || leading_colons);
            let used = prev == Some("use")
                || (prev == Some("crate") && i >= 2 && toks[i - 2].text == "extern");
            if starts_path || used {
                found.push(format!(
                    "src/{rel}:{}: {} must not use the `{text}` crate",
                    t.line,
                    layer.name()
                ));
            }
        }
        // A crate path: `crate::…`, `$crate::…`, `super::…`, `self::…` at the start of a path.
        if matches!(text, "crate" | "$crate" | "super" | "self")
            && next == Some("::")
            && prev != Some("::")
        {
            let module: Vec<String> = file_module
                .iter()
                .cloned()
                .chain(inline.iter().map(|(n, _)| n.clone()))
                .collect();
            for path in path_trees(&toks, i) {
                let Some(resolved) = resolve(&path, &module) else {
                    continue;
                };
                if layer.forbids(&resolved) {
                    found.push(format!(
                        "src/{rel}:{}: {} must not use crate::{}",
                        t.line,
                        layer.name(),
                        resolved.join("::")
                    ));
                }
            }
        }
    }
    found
}

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

#[test]
fn every_module_keeps_to_its_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut checked = 0;
    let mut violations = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
        if Layer::of(&rel).is_some() {
            checked += 1;
        }
        violations.extend(check(&rel, &std::fs::read_to_string(f).unwrap()));
    }
    assert!(
        checked > 40,
        "only {checked} files found in the layers: is src/ where it was?"
    );
    assert!(
        violations.is_empty(),
        "layering violations (docs/architecture.md):\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_checker_catches_planted_violations_and_nothing_else() {
    // Domain: other modules, async runtimes and database crates.
    let v = check(
        "domain/planted.rs",
        "use crate::app::ports::Store;\nuse super::email::EmailAddress;\n\
         #[tokio::test]\nasync fn t() {}\nfn f() { let _ = ::sqlx::query(\"SELECT 1\"); }\n",
    );
    assert_eq!(
        v,
        [
            "src/domain/planted.rs:1: domain must not use crate::app::ports::Store",
            "src/domain/planted.rs:3: domain must not use the `tokio` crate",
            "src/domain/planted.rs:5: domain must not use the `sqlx` crate",
        ]
    );
    // App: groups, nested groups, `self` in a group, and a fully qualified path in code.
    let v = check(
        "app/planted.rs",
        "use crate::{domain::Issue, bounce::{parse, sources::{self, pipe}}};\n\
         fn f() {\n    crate::storage::connect(\"sqlite://x\");\n}\n",
    );
    assert_eq!(
        v,
        [
            "src/app/planted.rs:1: app must not use crate::bounce::sources",
            "src/app/planted.rs:1: app must not use crate::bounce::sources::pipe",
            "src/app/planted.rs:3: app must not use crate::storage::connect",
        ]
    );
    // `super::super::` from a file, and from inside inline modules.
    let v = check(
        "app/ports/planted.rs",
        "use super::super::super::http::AppState;\nmod tests {\n    use super::super::Store;\n    \
         mod deeper { fn f() { super::super::super::super::super::mail::Outbox::new(); } }\n}\n",
    );
    assert_eq!(
        v,
        [
            "src/app/ports/planted.rs:1: app must not use crate::http::AppState",
            "src/app/ports/planted.rs:4: app must not use crate::mail::Outbox::new",
        ]
    );
    // Render and the parser.
    assert_eq!(
        check("render/planted.rs", "use crate::app::ports::Mailer;\n"),
        ["src/render/planted.rs:1: render must not use crate::app::ports::Mailer"]
    );
    assert_eq!(
        check(
            "bounce/parse/planted.rs",
            "use super::super::sources::imap;\nfn f() { tokio::spawn(async {}); }\n"
        ),
        [
            "src/bounce/parse/planted.rs:1: bounce::parse must not use crate::bounce::sources::imap",
            "src/bounce/parse/planted.rs:2: bounce::parse must not use the `tokio` crate",
        ]
    );
    // Not violations: comments, strings, raw strings, chars, lifetimes, allowed paths, and
    // modules that are no layer.
    let clean = "// use crate::storage;\n/* crate::http::x /* nested */ */\n\
                 fn f<'a>(s: &'a str) -> char { let _ = \"crate::mail\"; let _ = r#\"use sqlx::x;\"#; \
                 let _ = b'\\''; 'x' }\nuse crate::bounce::parse::Report;\nuse crate::render::Renderer;\n\
                 use crate::config::Settings;\npub(crate) fn g() {}\nuse tokio::sync::Mutex;\n";
    assert_eq!(check("app/clean.rs", clean), Vec::<String>::new());
    assert!(check("storage/mod.rs", "use sqlx::query; use crate::http::x;").is_empty());
}
