//! Previews and test sends: an issue rendered exactly as a subscriber receives it, with a
//! sample name and links that point at the real pages but carry no subscriber's token.
//!
//! Depends on the domain, the mail port, the settings and render.

use chrono::Utc;

use super::ports::{Mailer, OutgoingMessage, SendOutcome};
use crate::config::Settings;
use crate::domain::Issue;
use crate::domain::{EmailAddress, LangPref};
use crate::render::Renderer;
use crate::render::campaign::{Prepared, Recipient};

/// Sample links and ids.
pub struct Sample {
    unsubscribe: String,
    mailto: String,
    preferences: String,
    pub message_id: String,
    date: String,
}

impl Sample {
    pub fn new(settings: &Settings, issue: &Issue, pref: LangPref, tag: &str) -> Sample {
        let base = &settings.http.base_url;
        let link = |path: &str| base.join(path).map(|u| u.to_string()).unwrap_or_default();
        Sample {
            unsubscribe: link("unsubscribe/SAMPLE"),
            mailto: super::bounces::unsubscribe_mailto(settings, "SAMPLE"),
            preferences: link("preferences/SAMPLE"),
            message_id: format!(
                "{tag}.{}.{pref}.kairan@{}",
                issue.id,
                settings.newsletter.from.address.domain()
            ),
            date: Utc::now().to_rfc2822(),
        }
    }

    pub fn recipient<'a>(
        &'a self,
        email: &'a str,
        name: Option<&'a str>,
        legacy: bool,
    ) -> Recipient<'a> {
        Recipient {
            email,
            name,
            unsubscribe_url: &self.unsubscribe,
            unsubscribe_mailto: &self.mailto,
            preferences_url: &self.preferences,
            message_id: &self.message_id,
            delivery_token: None,
            legacy_charset: legacy,
            date: &self.date,
        }
    }
}

/// One preview: the full message and its decoded parts.
pub struct PreviewFiles {
    pub pref: LangPref,
    pub eml: Vec<u8>,
    pub text: String,
    pub html: String,
}

/// The issue as `ja`, `en` and `both` subscribers receive it, with a sample reader.
pub fn preview(
    renderer: &Renderer,
    settings: &Settings,
    issue: &Issue,
) -> anyhow::Result<Vec<PreviewFiles>> {
    let mut out = Vec::new();
    for pref in [LangPref::Ja, LangPref::En, LangPref::Both] {
        let p = Prepared::new(renderer, settings, issue, pref)?;
        let sample = Sample::new(settings, issue, pref, "preview");
        let (address, name) = match pref {
            LangPref::En => ("alex@example.com", "Alex Morgan"),
            _ => ("hanako@example.jp", "山田 花子"),
        };
        let r = sample.recipient(address, Some(name), false);
        let (text, html) = p.parts(&r);
        out.push(PreviewFiles {
            pref,
            eml: p.personalise(&r),
            text,
            html,
        });
    }
    Ok(out)
}

/// Sends one real message of the issue to `to`; returns the server's reply.
pub async fn send_test(
    renderer: &Renderer,
    settings: &Settings,
    mailer: &dyn Mailer,
    issue: &Issue,
    to: &EmailAddress,
    pref: LangPref,
) -> anyhow::Result<String> {
    let p = Prepared::new(renderer, settings, issue, pref)?;
    let legacy = settings
        .newsletter
        .legacy_charset_domains
        .iter()
        .any(|d| d == to.domain());
    let sample = Sample::new(
        settings,
        issue,
        pref,
        &format!("test-{}", Utc::now().timestamp_millis()),
    );
    let r = sample.recipient(to.as_str(), None, legacy);
    let msg = OutgoingMessage {
        envelope_from: settings
            .bounce
            .return_path
            .as_ref()
            .unwrap_or(&settings.newsletter.from.address)
            .to_string(),
        envelope_to: to.to_string(),
        message_id: sample.message_id.clone(),
        data: p.personalise(&r).into(),
    };
    let mut session = mailer.session().await;
    let outcome = session.send(&msg).await;
    session.close().await;
    match outcome {
        SendOutcome::Sent { reply } => {
            tracing::info!(issue_id = issue.id.get(), lang = %pref, via = mailer.kind(), "test message sent");
            Ok(reply)
        }
        SendOutcome::Temporary { reply, .. } | SendOutcome::Permanent { reply, .. } => {
            anyhow::bail!("the test message was not accepted: {reply}")
        }
    }
}

/// Renders a small bilingual sample issue for `ja`, `en` and `both` with the given templates
/// and settings, as `kairan check` does; returns what went wrong (nothing when all render).
pub fn sample_render(settings: &Settings, assets: &crate::assets::Assets) -> Vec<String> {
    let renderer = match Renderer::new(assets) {
        Ok(r) => r,
        Err(p) => return p,
    };
    let content = |subject: &str, body: &str| crate::domain::IssueContent {
        subject: subject.into(),
        preheader: None,
        markdown: body.into(),
    };
    let now = Utc::now();
    let issue = Issue {
        id: crate::domain::IssueId::new(0),
        slug: "sample".into(),
        state: crate::domain::IssueState::Draft,
        send_at: None,
        created_at: now,
        updated_at: now,
        started_at: None,
        finished_at: None,
        ja: content(
            "見本号",
            "# 見出し\n\n本文と[リンク](https://example.org/)。\n\n- 項目",
        ),
        en: content(
            "Sample issue",
            "# Heading\n\nText and a [link](https://example.org/).\n\n- item",
        ),
    };
    let mut problems = Vec::new();
    for pref in [LangPref::Ja, LangPref::En, LangPref::Both] {
        match Prepared::new(&renderer, settings, &issue, pref) {
            Ok(p) => {
                let sample = Sample::new(settings, &issue, pref, "check");
                let (text, html) =
                    p.parts(&sample.recipient("reader@example.org", Some("Reader"), false));
                if text.trim().is_empty() || html.trim().is_empty() {
                    problems.push(format!(
                        "templates/email/issue: the {pref} sample renders empty"
                    ));
                }
            }
            Err(e) => problems.push(format!("templates/email/issue: sample render failed: {e}")),
        }
    }
    problems
}
