//! `POST /console/issues/{id}/media`: an image from the editor's `multipart/form-data` form
//! (fields `csrf`, `file`, `alt`, `add_to` = `ja` | `en` | `both` | `none`). Mounted outside
//! the general body limit: the body is read here up to `console.max_image_bytes` (plus room
//! for the form's other fields). The use case (`app::media`) decides what is an image; the
//! Markdown to paste is shown, and appended to the chosen bodies when asked.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use chrono::Utc;

use super::{Console, Extra, refused, show_editor, store_failed, t};
use crate::app::{drafts, media};
use crate::domain::{Action, IssueId, Lang};
use crate::http::AppState;

/// Room for the form's fields besides the image.
const FORM_OVERHEAD: u64 = 64 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new().route("/console/issues/{id}/media", post(upload))
}

/// One part of a multipart body.
#[derive(Debug)]
struct Part {
    name: String,
    data: Vec<u8>,
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// The boundary of a `multipart/form-data` content type.
fn boundary(headers: &HeaderMap) -> Option<String> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let (kind, params) = ct.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_owned())
            .filter(|b| !b.is_empty() && b.len() <= 70)
    })
}

/// The parts of a `multipart/form-data` body (RFC 7578); `None` when it is malformed.
fn parse(body: &[u8], boundary: &str) -> Option<Vec<Part>> {
    let delim = format!("--{boundary}").into_bytes();
    let next: Vec<u8> = [b"\r\n".as_slice(), &delim].concat();
    let mut pos = find(body, &delim, 0)? + delim.len();
    let mut parts = Vec::new();
    loop {
        if body[pos..].starts_with(b"--") {
            return Some(parts);
        }
        if !body[pos..].starts_with(b"\r\n") {
            return None;
        }
        pos += 2;
        let head_end = find(body, b"\r\n\r\n", pos)?;
        let head = String::from_utf8_lossy(&body[pos..head_end]);
        let start = head_end + 4;
        let end = find(body, &next, start)?;
        let name = head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            if !k.trim().eq_ignore_ascii_case("content-disposition") {
                return None;
            }
            v.split(';').find_map(|p| {
                let (k, v) = p.trim().split_once('=')?;
                (k.trim() == "name").then(|| v.trim().trim_matches('"').to_owned())
            })
        })?;
        parts.push(Part {
            name,
            data: body[start..end].to_vec(),
        });
        pos = end + next.len();
    }
}

fn field<'a>(parts: &'a [Part], name: &str) -> Option<&'a [u8]> {
    parts
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.data.as_slice())
}

fn text(parts: &[Part], name: &str) -> String {
    field(parts, name)
        .map(|d| String::from_utf8_lossy(d).trim().to_owned())
        .unwrap_or_default()
}

async fn upload(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<IssueId>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let lang = console.page.lang;
    let max = state.settings.console_media.max_image_bytes;
    let bad = |status: StatusCode, msg: String| (status, msg);
    let outcome: Result<Vec<Part>, (StatusCode, String)> = async {
        let Some(b) = boundary(&headers) else {
            return Err(bad(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                t(&state, lang, "console-issues-upload-form", &[]),
            ));
        };
        let bytes = axum::body::to_bytes(body, (max + FORM_OVERHEAD) as usize)
            .await
            .map_err(|_| {
                let err = media::MediaError::TooLarge {
                    size: max + FORM_OVERHEAD,
                    max,
                };
                let msg = match lang {
                    Lang::Ja => format!("画像が大きすぎます（{max} バイトまで）"),
                    Lang::En => format!("{err}"),
                };
                bad(StatusCode::PAYLOAD_TOO_LARGE, msg)
            })?;
        parse(&bytes, &b).ok_or_else(|| {
            bad(
                StatusCode::BAD_REQUEST,
                t(&state, lang, "console-issues-upload-form", &[]),
            )
        })
    }
    .await;
    let parts = match outcome {
        Ok(p) => p,
        Err((status, msg)) => {
            // Nothing is read from a body that could not be parsed: refuse like a wrong token
            // when it carries none, else say why.
            let extra = Extra {
                notice: Some((msg, true)),
                ..Extra::default()
            };
            return show_editor(&state, &console, id, status, extra).await;
        }
    };
    if let Err(r) = console.check_csrf(&state, &text(&parts, "csrf")) {
        return r;
    }
    if let Err(r) = console.require(&state, Action::EditIssues) {
        return r;
    }
    let data = field(&parts, "file").unwrap_or_default();
    let now = Utc::now();
    let up = match media::upload(state.store.as_ref(), &state.settings, data, now).await {
        Ok(u) => u,
        Err(media::MediaError::Store(e)) => return store_failed(&state, &console, e),
        Err(e) => {
            let msg = match lang {
                Lang::Ja => e.message_ja(),
                Lang::En => e.to_string(),
            };
            let status = match e {
                media::MediaError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            let extra = Extra {
                notice: Some((msg, true)),
                ..Extra::default()
            };
            return show_editor(&state, &console, id, status, extra).await;
        }
    };
    // Under the acting scope (`http::acting`, mounted on this route too): the person's line.
    crate::app::accounts::audit::note(
        "media.uploaded",
        format!("media {}.{}", up.hash, up.ext),
        format!("issue {id}, {} bytes, {}", data.len(), up.content_type),
        now,
    )
    .await;
    let snippet = up.markdown(&text(&parts, "alt"));
    let add_to = text(&parts, "add_to");
    let (ja, en) = (
        matches!(add_to.as_str(), "ja" | "both"),
        matches!(add_to.as_str(), "en" | "both"),
    );
    if ja || en {
        let issue = match state.store.issue(id).await {
            Ok(Some(i)) => i,
            Ok(None) => return super::not_found(&state, &console),
            Err(e) => return store_failed(&state, &console, e),
        };
        let append = |c: &crate::domain::IssueContent, on: bool| {
            let mut c = c.clone();
            if on {
                let trimmed = c.markdown.trim_end().to_owned();
                c.markdown = format!("{trimmed}\n\n{snippet}\n");
            }
            c
        };
        let s = drafts::Save {
            slug: None,
            send_at: issue.send_at,
            ja: append(&issue.ja, ja),
            en: append(&issue.en, en),
        };
        if let Err(e) = drafts::save(state.store.as_ref(), &state.settings, id, s, now).await {
            return refused(&state, &console, id, e).await;
        }
    }
    let extra = Extra {
        notice: Some((t(&state, lang, "console-issues-uploaded", &[]), false)),
        snippet: Some(snippet),
        ..Extra::default()
    };
    show_editor(&state, &console, id, StatusCode::OK, extra).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_browsers_multipart_body_is_split_into_its_fields() {
        let body = b"------x\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nabc\r\n\
------x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n\r\n------x--\r\n";
        let parts = parse(body, "----x").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(text(&parts, "csrf"), "abc");
        assert_eq!(field(&parts, "file").unwrap(), b"\x89PNG\r\n\x1a\n");
        assert!(parse(b"garbage", "----x").is_none());
        assert!(parse(b"------x\r\nno end", "----x").is_none());
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            "multipart/form-data; boundary=\"----x\"".parse().unwrap(),
        );
        assert_eq!(boundary(&h).as_deref(), Some("----x"));
        h.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert_eq!(boundary(&h), None);
    }
}
