//! Templates and locales: embedded in the binary at build time (so an installed `kairan`
//! works from any directory), each file overridable by a file of the same relative path in
//! the directories named by `paths.templates` / `paths.locales`.
//!
//! Depends on the settings (`paths.*`) and the domain's `Lang`.

use std::collections::BTreeMap;
use std::path::Path;

use include_dir::{Dir, include_dir};

use crate::config::PathsSettings;
use crate::domain::Lang;

static TEMPLATES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/templates");
static LOCALES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/locales");

/// Every template (`pages/base.hbs` → source) and every Fluent file per language.
#[derive(Debug, Clone, Default)]
pub struct Assets {
    pub templates: BTreeMap<String, String>,
    /// (language, file name such as `common.ftl`) → source.
    pub locales: BTreeMap<(Lang, String), String>,
}

impl Assets {
    /// The embedded files, overlaid with the configured override directories.
    pub fn load(paths: &PathsSettings) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        let mut templates = embedded(&TEMPLATES, "hbs");
        let mut locale_files = embedded(&LOCALES, "ftl");
        if let Some(dir) = &paths.templates {
            overlay(dir, "hbs", "paths.templates", &mut templates, &mut problems);
        }
        if let Some(dir) = &paths.locales {
            overlay(
                dir,
                "ftl",
                "paths.locales",
                &mut locale_files,
                &mut problems,
            );
        }
        let mut locales = BTreeMap::new();
        for (path, source) in locale_files {
            match path.split_once('/') {
                Some((lang, file)) => match lang.parse::<Lang>() {
                    Ok(lang) => {
                        locales.insert((lang, file.to_owned()), source);
                    }
                    Err(_) => problems.push(format!(
                        "locales/{path}: `{lang}` is not a language directory (ja or en)"
                    )),
                },
                None => problems.push(format!("locales/{path}: must be inside ja/ or en/")),
            }
        }
        if problems.is_empty() {
            Ok(Assets { templates, locales })
        } else {
            Err(problems)
        }
    }

    /// Checks that every Fluent file parses and that ja and en define the same message ids.
    /// Returns every problem found.
    pub fn check_locales(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut ids: BTreeMap<Lang, BTreeMap<String, String>> = BTreeMap::new();
        for ((lang, file), source) in &self.locales {
            let resource = match fluent_bundle::FluentResource::try_new(source.clone()) {
                Ok(r) => r,
                Err((r, errors)) => {
                    for e in errors {
                        let line = source[..e.pos.start.min(source.len())]
                            .lines()
                            .count()
                            .max(1);
                        problems.push(format!("locales/{lang}/{file}:{line}: {e}"));
                    }
                    r
                }
            };
            for entry in resource.entries() {
                if let fluent_syntax::ast::Entry::Message(m) = entry {
                    ids.entry(*lang)
                        .or_default()
                        .insert(m.id.name.to_owned(), file.clone());
                }
            }
        }
        let empty = BTreeMap::new();
        let ja = ids.get(&Lang::Ja).unwrap_or(&empty);
        let en = ids.get(&Lang::En).unwrap_or(&empty);
        for (id, file) in ja {
            if !en.contains_key(id) {
                problems.push(format!(
                    "locales/ja/{file}: message `{id}` has no English version in locales/en/"
                ));
            }
        }
        for (id, file) in en {
            if !ja.contains_key(id) {
                problems.push(format!(
                    "locales/en/{file}: message `{id}` has no Japanese version in locales/ja/"
                ));
            }
        }
        problems
    }
}

fn embedded(dir: &Dir<'static>, ext: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    collect_embedded(dir, ext, &mut out);
    out
}

fn collect_embedded(dir: &Dir<'static>, ext: &str, out: &mut BTreeMap<String, String>) {
    for f in dir.files() {
        if f.path().extension().and_then(|e| e.to_str()) == Some(ext)
            && let Some(text) = f.contents_utf8()
        {
            out.insert(
                f.path().to_string_lossy().replace('\\', "/"),
                text.to_owned(),
            );
        }
    }
    for d in dir.dirs() {
        collect_embedded(d, ext, out);
    }
}

fn overlay(
    root: &Path,
    ext: &str,
    key: &str,
    out: &mut BTreeMap<String, String>,
    problems: &mut Vec<String>,
) {
    if !root.is_dir() {
        problems.push(format!("{key}: `{}` is not a directory", root.display()));
        return;
    }
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                problems.push(format!("{key}: cannot read `{}`: {e}", dir.display()));
                continue;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().and_then(|e| e.to_str()) == Some(ext) {
                let rel = path
                    .strip_prefix(root)
                    .expect("walked from root")
                    .to_string_lossy()
                    .replace('\\', "/");
                match std::fs::read_to_string(&path) {
                    Ok(text) => {
                        out.insert(rel, text);
                    }
                    Err(e) => problems.push(format!(
                        "{}: cannot read as UTF-8 text: {e}",
                        path.display()
                    )),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_overrides() -> PathsSettings {
        PathsSettings {
            templates: None,
            locales: None,
        }
    }

    #[test]
    fn the_embedded_assets_load_and_agree_between_languages() {
        let a = Assets::load(&no_overrides()).unwrap();
        assert!(a.templates.contains_key("pages/base.hbs"));
        assert!(a.locales.contains_key(&(Lang::Ja, "common.ftl".into())));
        assert_eq!(a.check_locales(), Vec::<String>::new());
    }

    #[test]
    fn an_override_directory_replaces_files_and_a_one_sided_key_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("ja")).unwrap();
        std::fs::write(
            dir.path().join("ja/common.ftl"),
            "language-name = 日本語\nother-language-name = English\nother-language-link = Read in English\nonly-ja = だけ\n",
        )
        .unwrap();
        let paths = PathsSettings {
            templates: None,
            locales: Some(dir.path().to_path_buf()),
        };
        let a = Assets::load(&paths).unwrap();
        assert!(a.locales[&(Lang::Ja, "common.ftl".into())].contains("only-ja"));
        let problems = a.check_locales();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("`only-ja`"), "{problems:?}");
    }

    #[test]
    fn a_fluent_syntax_error_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("en")).unwrap();
        std::fs::write(
            dir.path().join("en/common.ftl"),
            "language-name = English\nbroken = {\n",
        )
        .unwrap();
        let paths = PathsSettings {
            templates: None,
            locales: Some(dir.path().to_path_buf()),
        };
        let problems = Assets::load(&paths).unwrap().check_locales();
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("locales/en/common.ftl:2")),
            "{problems:?}"
        );
    }
}
