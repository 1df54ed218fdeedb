//! Rendering: Fluent messages (`locales/{ja,en}/*.ftl`) inside Handlebars templates
//! (`templates/pages/*.hbs`, `templates/email/*.{html,txt}.hbs`), loaded once at start and
//! pure after that: data in, bytes out; nothing is sent or stored here. Depends on the
//! domain, `assets` and the settings; never on `app`, `mail`, `storage` or `http`
//! (`tests/it/layers.rs` checks it).
//!
//! Two Handlebars registries, both in strict mode (a missing field is an error, not an empty
//! string): one HTML-escaping for pages and HTML mail, one not escaping for plain-text mail.
//! Every visible string comes from Fluent through the `t` helper:
//! `{{t "subscribe-title"}}` in the page's language (the `lang` field of the data), or
//! `{{t "footer-sender" lang="ja" name=sender}}` with an explicit language and arguments.
//! Fluent's bidi isolation marks are off: U+2068 / U+2069 would otherwise land in subjects.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use handlebars::{
    Context, Handlebars, Helper, HelperDef, RenderContext, RenderError, RenderErrorReason,
    ScopedJson,
};

use crate::assets::Assets;
use crate::domain::Lang;

pub mod account_mail;
pub mod campaign;
pub mod text;
pub mod transactional;

/// The Fluent messages of both languages.
pub struct I18n {
    bundles: BTreeMap<Lang, FluentBundle<FluentResource>>,
}

impl I18n {
    pub fn new(assets: &Assets) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        let mut bundles = BTreeMap::new();
        for lang in [Lang::Ja, Lang::En] {
            let id = lang
                .as_str()
                .parse::<unic_langid::LanguageIdentifier>()
                .expect("ja and en are valid language ids");
            let mut bundle = FluentBundle::new_concurrent(vec![id]);
            bundle.set_use_isolating(false);
            for ((l, file), source) in &assets.locales {
                if *l != lang {
                    continue;
                }
                let resource = match FluentResource::try_new(source.clone()) {
                    Ok(r) => r,
                    Err((_, errors)) => {
                        for e in errors {
                            problems.push(format!("locales/{lang}/{file}: {e}"));
                        }
                        continue;
                    }
                };
                if let Err(errors) = bundle.add_resource(resource) {
                    for e in errors {
                        problems.push(format!("locales/{lang}/{file}: {e}"));
                    }
                }
            }
            bundles.insert(lang, bundle);
        }
        if problems.is_empty() {
            Ok(I18n { bundles })
        } else {
            Err(problems)
        }
    }

    pub fn has(&self, lang: Lang, id: &str) -> bool {
        self.bundles[&lang].has_message(id)
    }

    /// Formats message `id` in `lang`. A missing message or a formatting error is an error
    /// naming the message (`kairan check` makes sure neither happens in a release).
    pub fn format(
        &self,
        lang: Lang,
        id: &str,
        args: Option<&FluentArgs>,
    ) -> Result<String, String> {
        let bundle = &self.bundles[&lang];
        let pattern = bundle
            .get_message(id)
            .and_then(|m| m.value())
            .ok_or_else(|| format!("no Fluent message `{id}` in locales/{lang}/"))?;
        let mut errors = Vec::new();
        let s = bundle.format_pattern(pattern, args, &mut errors);
        if let Some(e) = errors.first() {
            return Err(format!("Fluent message `{id}` ({lang}): {e}"));
        }
        Ok(s.into_owned())
    }

    /// As [`I18n::format`] with string arguments.
    pub fn t(&self, lang: Lang, id: &str, args: &[(&str, &str)]) -> Result<String, String> {
        if args.is_empty() {
            return self.format(lang, id, None);
        }
        let mut fa = FluentArgs::new();
        for (k, v) in args {
            fa.set(*k, FluentValue::from(*v));
        }
        self.format(lang, id, Some(&fa))
    }
}

/// The `t` helper; see the module docs.
struct TranslateHelper(Arc<I18n>);

impl HelperDef for TranslateHelper {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let id = h
            .param(0)
            .and_then(|p| p.value().as_str())
            .ok_or(RenderErrorReason::ParamNotFoundForIndex("t", 0))?;
        let lang_text = match h.hash_get("lang") {
            Some(v) => v.value().as_str().map(str::to_owned),
            None => ctx
                .data()
                .get("lang")
                .and_then(|v| v.as_str())
                .map(str::to_owned),
        }
        .ok_or_else(|| RenderErrorReason::Other("t: no `lang` in the data or the call".into()))?;
        let lang: Lang = lang_text
            .parse()
            .map_err(|e: crate::domain::ParseEnumError| RenderErrorReason::Other(e.to_string()))?;
        let mut args = FluentArgs::new();
        for (k, v) in h.hash() {
            if *k == "lang" {
                continue;
            }
            match v.value() {
                serde_json::Value::String(s) => args.set(*k, FluentValue::from(s.clone())),
                serde_json::Value::Number(n) => {
                    args.set(*k, FluentValue::from(n.as_f64().unwrap_or(0.0)))
                }
                serde_json::Value::Null => args.set(*k, FluentValue::from("")),
                other => args.set(*k, FluentValue::from(other.to_string())),
            }
        }
        let text = self
            .0
            .format(lang, id, Some(&args))
            .map_err(RenderErrorReason::Other)?;
        Ok(ScopedJson::Derived(serde_json::Value::String(text)))
    }
}

/// Templates and messages, compiled once.
pub struct Renderer {
    html: Handlebars<'static>,
    text: Handlebars<'static>,
    i18n: Arc<I18n>,
}

impl Renderer {
    /// Compiles every template; returns every problem found.
    pub fn new(assets: &Assets) -> Result<Self, Vec<String>> {
        let i18n = Arc::new(I18n::new(assets)?);
        let mut html = Handlebars::new();
        let mut text = Handlebars::new();
        for hb in [&mut html, &mut text] {
            hb.set_strict_mode(true);
            hb.register_helper("t", Box::new(TranslateHelper(i18n.clone())));
        }
        text.register_escape_fn(handlebars::no_escape);
        let mut problems = Vec::new();
        for (path, source) in &assets.templates {
            let Some(stem) = path.strip_suffix(".hbs") else {
                continue;
            };
            let registry = if stem.ends_with(".txt") {
                &mut text
            } else {
                &mut html
            };
            if let Err(e) = registry.register_template_string(stem, source) {
                problems.push(format!("templates/{path}: {e}"));
            }
        }
        if problems.is_empty() {
            Ok(Renderer { html, text, i18n })
        } else {
            Err(problems)
        }
    }

    pub fn i18n(&self) -> &I18n {
        &self.i18n
    }

    /// Renders an HTML template (`pages/subscribe`, `email/issue.html`), escaping values.
    pub fn html(&self, name: &str, data: &impl serde::Serialize) -> Result<String, RenderError> {
        self.html.render(name, data)
    }

    /// Renders a plain-text template (`email/issue.txt`), values as they are.
    pub fn text(&self, name: &str, data: &impl serde::Serialize) -> Result<String, RenderError> {
        self.text.render(name, data)
    }

    pub fn has_template(&self, name: &str) -> bool {
        self.html.has_template(name) || self.text.has_template(name)
    }
}

/// The Fluent message ids a template uses through `t` (`{{t "id"`, `(t "id"`).
pub fn message_ids_used(template: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for opener in ["{{t \"", "{{{t \"", "(t \"", "{{~t \""] {
        let mut rest = template;
        while let Some(i) = rest.find(opener) {
            rest = &rest[i + opener.len()..];
            if let Some(end) = rest.find('"') {
                ids.insert(rest[..end].to_owned());
                rest = &rest[end..];
            }
        }
    }
    ids
}

/// `kairan check` for templates and locales: locale syntax and ja/en parity, every template
/// compiles, every message a template uses exists in both languages. Every problem found.
pub fn check(assets: &Assets) -> Vec<String> {
    let mut problems = assets.check_locales();
    let renderer = match Renderer::new(assets) {
        Ok(r) => r,
        Err(p) => {
            problems.extend(p);
            return problems;
        }
    };
    for (path, source) in &assets.templates {
        for id in message_ids_used(source) {
            for lang in [Lang::Ja, Lang::En] {
                if !renderer.i18n.has(lang, &id) {
                    problems.push(format!(
                        "templates/{path}: uses `{id}`, which locales/{lang}/ does not define"
                    ));
                }
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PathsSettings;

    fn assets() -> Assets {
        Assets::load(&PathsSettings {
            templates: None,
            locales: None,
        })
        .unwrap()
    }

    #[test]
    fn the_built_in_templates_and_locales_pass_the_check() {
        assert_eq!(check(&assets()), Vec::<String>::new());
    }

    #[test]
    fn t_escapes_in_html_and_not_in_text_and_adds_no_isolation_marks() {
        let mut a = assets();
        a.locales.insert(
            (Lang::Ja, "x.ftl".into()),
            "greet = { $name }さん、こんにちは\n".into(),
        );
        a.locales.insert(
            (Lang::En, "x.ftl".into()),
            "greet = Hello, { $name }\n".into(),
        );
        a.templates.insert(
            "email/x.html.hbs".into(),
            "<p>{{t \"greet\" name=name}}</p>".into(),
        );
        a.templates.insert(
            "email/x.txt.hbs".into(),
            "{{t \"greet\" name=name lang=\"en\"}}".into(),
        );
        let r = Renderer::new(&a).unwrap();
        let data = serde_json::json!({"lang": "ja", "name": "<山田>"});
        let html = r.html("email/x.html", &data).unwrap();
        assert_eq!(html, "<p>&lt;山田&gt;さん、こんにちは</p>");
        assert_eq!(r.text("email/x.txt", &data).unwrap(), "Hello, <山田>");
        assert!(!html.contains('\u{2068}') && !html.contains('\u{2069}'));
    }

    #[test]
    fn strict_mode_refuses_a_missing_field() {
        let mut a = assets();
        a.templates
            .insert("pages/y.hbs".into(), "{{missing}}".into());
        let r = Renderer::new(&a).unwrap();
        assert!(
            r.html("pages/y", &serde_json::json!({"lang": "en"}))
                .is_err()
        );
    }

    #[test]
    fn check_reports_a_message_missing_in_one_language_and_a_broken_template() {
        let mut a = assets();
        a.templates.insert(
            "pages/z.hbs".into(),
            "{{t \"nowhere\"}} {{t \"language-name\"}}".into(),
        );
        let problems = check(&a);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems.iter().all(|p| p.contains("`nowhere`")),
            "{problems:?}"
        );
        a.templates
            .insert("pages/broken.hbs".into(), "{{#if x}}".into());
        assert!(
            check(&a)
                .iter()
                .any(|p| p.starts_with("templates/pages/broken.hbs"))
        );
    }

    #[test]
    fn message_ids_are_found_in_all_helper_forms() {
        let ids = message_ids_used(r#"{{t "a"}} {{{t "b" x=y}}} {{#if (t "c")}}{{/if}}"#);
        assert_eq!(ids.into_iter().collect::<Vec<_>>(), ["a", "b", "c"]);
    }
}
