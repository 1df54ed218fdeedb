//! Images for issues: an editor uploads PNG, JPEG, WebP or GIF (recognised by their magic
//! bytes, whatever the file is called), up to `console.max_image_bytes`; each is stored
//! once, keyed by the SHA-256 of its bytes, and served at `/media/{hash}.{ext}` under
//! `http.base_url` (the URL goes into the Markdown as an absolute link, as mail needs).
//! The same bytes uploaded twice are one image; stored images never change, so they are
//! served with a year-long, immutable cache.
//!
//! Depends on the editorial store port and the settings.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::ports::{EditorialStore, Media, StoreError};
use crate::config::Settings;

/// The image formats accepted: (content type, extension).
pub const FORMATS: [(&str, &str); 4] = [
    ("image/png", "png"),
    ("image/jpeg", "jpg"),
    ("image/webp", "webp"),
    ("image/gif", "gif"),
];

/// The format of `data` by its first bytes.
pub fn sniff(data: &[u8]) -> Option<(&'static str, &'static str)> {
    let f = |i: usize| Some(FORMATS[i]);
    if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        f(0)
    } else if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        f(1)
    } else if data.len() >= 12 && &data[..4] == b"RIFF" && &data[8..12] == b"WEBP" {
        f(2)
    } else if data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a") {
        f(3)
    } else {
        None
    }
}

/// Why an upload was refused.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("the file is empty")]
    Empty,
    #[error("the image is {size} bytes; at most {max} (console.max_image_bytes)")]
    TooLarge { size: u64, max: u64 },
    #[error("not a PNG, JPEG, WebP or GIF image")]
    NotAnImage,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl MediaError {
    /// In Japanese, for the console.
    pub fn message_ja(&self) -> String {
        match self {
            MediaError::Empty => "ファイルが空です".into(),
            MediaError::TooLarge { size, max } => {
                format!("画像が {size} バイトあります（{max} バイトまで）")
            }
            MediaError::NotAnImage => "PNG、JPEG、WebP、GIF の画像ではありません".into(),
            MediaError::Store(_) => "保存できませんでした".into(),
        }
    }
}

/// A stored image: where it is served and how to put it in Markdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    pub hash: String,
    pub ext: &'static str,
    pub content_type: &'static str,
    /// Absolute, under `http.base_url`.
    pub url: String,
    /// Whether these bytes were new (false: the same image was there).
    pub new: bool,
}

impl Uploaded {
    /// `![alt](url)`, with `[`, `]` and line breaks taken out of the text.
    pub fn markdown(&self, alt: &str) -> String {
        let alt: String = alt
            .chars()
            .filter(|c| !matches!(c, '[' | ']' | '\n' | '\r'))
            .collect();
        format!("![{alt}]({})", self.url)
    }
}

/// The path an image is served at (`media/{hash}.{ext}`, relative to `http.base_url`).
pub fn path(hash: &str, ext: &str) -> String {
    format!("media/{hash}.{ext}")
}

/// Checks and stores an uploaded image.
pub async fn upload(
    store: &dyn EditorialStore,
    settings: &Settings,
    data: &[u8],
    now: DateTime<Utc>,
) -> Result<Uploaded, MediaError> {
    let max = settings.console_media.max_image_bytes;
    if data.is_empty() {
        return Err(MediaError::Empty);
    }
    if data.len() as u64 > max {
        return Err(MediaError::TooLarge {
            size: data.len() as u64,
            max,
        });
    }
    let (content_type, ext) = sniff(data).ok_or(MediaError::NotAnImage)?;
    let hash = hex(&Sha256::digest(data));
    let new = store
        .put_media(
            &Media {
                hash: hash.clone(),
                content_type: content_type.to_owned(),
                data: data.to_vec(),
            },
            now,
        )
        .await?;
    let url = settings
        .http
        .base_url
        .join(&path(&hash, ext))
        .map(|u| u.to_string())
        .unwrap_or_default();
    tracing::info!(hash = %hash, size = data.len(), new, "image uploaded");
    Ok(Uploaded {
        hash,
        ext,
        content_type,
        url,
        new,
    })
}

/// The image served as `{hash}.{ext}`: `None` unless the name is a SHA-256 in lower-case
/// hex with the extension of the stored image's format.
pub async fn fetch(store: &dyn EditorialStore, file: &str) -> Result<Option<Media>, StoreError> {
    let Some((hash, ext)) = file.split_once('.') else {
        return Ok(None);
    };
    if hash.len() != 64 || !hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Ok(None);
    }
    let Some(m) = store.media(hash).await? else {
        return Ok(None);
    };
    let matches = FORMATS
        .iter()
        .any(|(ct, e)| *ct == m.content_type && *e == ext);
    Ok(matches.then_some(m))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_known_by_their_bytes_not_their_names() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n....").unwrap().1, "png");
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]).unwrap().1, "jpg");
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 ").unwrap().1, "webp");
        assert_eq!(sniff(b"GIF89a....").unwrap().1, "gif");
        assert_eq!(sniff(b"<svg xmlns=\"http://www.w3.org/2000/svg\">"), None);
        assert_eq!(sniff(b"RIFF\x10\0\0\0WAVE"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn markdown_alt_text_cannot_break_the_link() {
        let u = Uploaded {
            hash: "ab".into(),
            ext: "png",
            content_type: "image/png",
            url: "https://news.example.org/media/ab.png".into(),
            new: true,
        };
        assert_eq!(
            u.markdown("相談会の[写真]\n"),
            "![相談会の写真](https://news.example.org/media/ab.png)"
        );
    }
}
