//! RFC 2047 encoded-words for non-ASCII header values (Subject, display
//! names).
//!
//! Only the `B` (base64) encoding is produced: it is what RFC 1468 asks for
//! with ISO-2022-JP and it is compact for Japanese.  The text is cut into
//! several encoded-words, each at most 75 characters (RFC 2047 §2), joined by
//! CRLF + space so that every folded line stays within 76 characters (§2,
//! "each line of a header field that contains one or more encoded-words is
//! limited to 76 characters").  Decoders drop the whitespace between
//! adjacent encoded-words, so the cuts are invisible to the reader.
//!
//! * UTF-8: a word never ends in the middle of a multi-byte character (RFC
//!   2047 §5 requires each word to be a whole number of characters).
//! * ISO-2022-JP: each word is encoded separately and therefore starts in
//!   ASCII and ends with `ESC ( B`; no shift state leaks across words.
//!   Characters ISO-2022-JP cannot carry are replaced as by
//!   [`super::lossy_iso2022jp`] (`〓`); check with [`super::check_iso2022jp`]
//!   first if that must not happen silently.
//!
//! Plain printable ASCII is returned unchanged (and unfolded: folding ASCII
//! at spaces is the header writer's job).  It is encoded anyway when it
//! contains `=?` (which a lenient reader could take for an encoded-word) or
//! when it could not legally stand on one line (over 998 octets).  CR, LF
//! and other control characters are replaced by spaces before encoding: a
//! header value must never be able to start a new header line.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::iso2022jp::{encode_prepared, lossy_text};
use super::wrap::MAX_LINE_OCTETS;

/// Charset of the encoded-words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderCharset {
    /// `=?UTF-8?B?…?=`
    Utf8,
    /// `=?ISO-2022-JP?B?…?=`, for recipients on traditional Japanese MUAs.
    Iso2022Jp,
}

impl HeaderCharset {
    fn label(self) -> &'static str {
        match self {
            HeaderCharset::Utf8 => "UTF-8",
            HeaderCharset::Iso2022Jp => "ISO-2022-JP",
        }
    }
}

/// Longest encoded-word RFC 2047 allows.
const MAX_WORD: usize = 75;
/// Longest header line that contains an encoded-word.
const MAX_LINE: usize = 76;
/// Folding between words.
const FOLD: &str = "\r\n ";

/// Encode a header value for a header whose first line starts at column 0.
/// Same as [`encode_header_word_after`] with `offset` 0.
pub fn encode_header_word(text: &str, charset: HeaderCharset) -> String {
    encode_header_word_after(text, charset, 0)
}

/// Encode a header value that will follow `offset` characters on the first
/// line (e.g. 9 for `"Subject: "`), so that the first line too stays within
/// 76 characters.  If fewer than a useful word's worth of columns remain,
/// the result starts with a fold (`"\r\n "`), which RFC 5322 allows.
pub fn encode_header_word_after(text: &str, charset: HeaderCharset, offset: usize) -> String {
    let plain = text
        .bytes()
        .all(|b| b == b'\t' || (b' '..=b'~').contains(&b));
    if plain && !text.contains("=?") && offset + text.len() <= MAX_LINE_OCTETS {
        return text.to_string();
    }
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() && c != '\t' { ' ' } else { c })
        .collect();
    let text = match charset {
        HeaderCharset::Utf8 => clean,
        HeaderCharset::Iso2022Jp => lossy_text(&clean),
    };

    let overhead = "=?".len() + charset.label().len() + "?B?".len() + "?=".len();
    // Payload bytes that fit in `room` characters of encoded-word.
    let payload = |room: usize| room.saturating_sub(overhead) / 4 * 3;
    // A word must hold at least one character: 4 bytes of UTF-8, or for
    // ISO-2022-JP two escape sequences around one double-byte character.
    let min_payload = match charset {
        HeaderCharset::Utf8 => 4,
        HeaderCharset::Iso2022Jp => 8,
    };

    let mut out = String::new();
    let mut budget = payload(MAX_WORD.min(MAX_LINE.saturating_sub(offset)));
    if budget < min_payload {
        out.push_str(FOLD);
        budget = payload(MAX_WORD);
    }
    let mut rest = text.as_str();
    let mut first = true;
    while !rest.is_empty() {
        let (chunk, bytes) = take_chunk(rest, charset, budget);
        if !first {
            out.push_str(FOLD);
        }
        out.push_str("=?");
        out.push_str(charset.label());
        out.push_str("?B?");
        out.push_str(&BASE64.encode(&bytes));
        out.push_str("?=");
        rest = &rest[chunk..];
        first = false;
        budget = payload(MAX_WORD);
    }
    out
}

/// Longest prefix of `text` (in bytes, at a char boundary) whose encoding
/// fits in `budget` bytes, and that encoding.  Always takes at least one
/// character so that the loop makes progress.
fn take_chunk(text: &str, charset: HeaderCharset, budget: usize) -> (usize, Vec<u8>) {
    let encode = |s: &str| match charset {
        HeaderCharset::Utf8 => s.as_bytes().to_vec(),
        // Encoding each chunk on its own is what makes the words balanced:
        // the encoder always returns to ASCII at the end of its input.
        HeaderCharset::Iso2022Jp => encode_prepared(s),
    };
    let mut end = 0;
    let mut best: Option<Vec<u8>> = None;
    for (i, c) in text.char_indices() {
        let candidate = encode(&text[..i + c.len_utf8()]);
        if candidate.len() > budget && best.is_some() {
            break;
        }
        end = i + c.len_utf8();
        best = Some(candidate);
    }
    (end, best.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use encoding_rs::ISO_2022_JP;

    const SUBJECTS: [&str; 5] = [
        "【かいらん通信 第42号】技能実習生の権利を守るために――相談件数が過去最多の412件に",
        "Kairan Newsletter #42: Protecting the rights of technical intern trainees",
        "Re: 6月20日「世界難民の日」オンライン・セミナー \"Human Rights in Supply Chains\" のご案内",
        "短い件名",
        "ａｂｃ😀 emoji and ｶﾀｶﾅ mixed with a long tail of English words to force folding",
    ];

    /// Minimal RFC 2047 decoder for the tests: joins adjacent encoded-words
    /// (dropping the folding between them) and decodes each charset.
    fn decode(value: &str) -> String {
        let unfolded = value.replace("\r\n", "");
        if !unfolded.trim_start().starts_with("=?") {
            return value.to_string(); // passed through as plain ASCII
        }
        let mut out = String::new();
        for token in unfolded.split(' ').filter(|t| !t.is_empty()) {
            let inner = token
                .strip_prefix("=?")
                .and_then(|t| t.strip_suffix("?="))
                .expect("encoded-word");
            let mut parts = inner.splitn(3, '?');
            let charset = parts.next().unwrap();
            assert_eq!(parts.next().unwrap(), "B");
            let bytes = BASE64.decode(parts.next().unwrap()).unwrap();
            match charset {
                "UTF-8" => out.push_str(std::str::from_utf8(&bytes).expect("whole chars")),
                "ISO-2022-JP" => {
                    assert!(bytes.iter().all(u8::is_ascii));
                    // Balanced: the word ends in ASCII.
                    if let Some(p) = bytes.iter().rposition(|&b| b == 0x1B) {
                        assert_eq!(&bytes[p..p + 3], b"\x1B(B");
                    }
                    let (s, err) = ISO_2022_JP.decode_without_bom_handling(&bytes);
                    assert!(!err);
                    out.push_str(&s);
                }
                other => panic!("charset {other}"),
            }
        }
        out
    }

    fn check_shape(value: &str, offset: usize) {
        if !value.contains("=?") {
            return; // plain ASCII passed through: folding is not ours to do
        }
        for (i, line) in value.split("\r\n").enumerate() {
            let len = line.chars().count() + if i == 0 { offset } else { 0 };
            assert!(len <= MAX_LINE, "line {i} is {len} long: {line:?}");
            if i > 0 {
                assert!(line.starts_with(' ') && !line.starts_with("  "));
            }
            for word in line.split(' ').filter(|w| !w.is_empty()) {
                assert!(word.len() <= MAX_WORD, "{word}");
            }
        }
    }

    fn parse_subject(encoded: &str) -> String {
        let raw = format!("Subject: {encoded}\r\n\r\nbody\r\n");
        let msg = mail_parser::MessageParser::default()
            .parse(raw.as_bytes())
            .expect("parses");
        msg.subject().expect("has subject").to_string()
    }

    #[test]
    fn ascii_passes_through() {
        let s = "Kairan Newsletter #42: Protecting rights";
        assert_eq!(encode_header_word(s, HeaderCharset::Utf8), s);
        assert_eq!(encode_header_word(s, HeaderCharset::Iso2022Jp), s);
        assert_eq!(encode_header_word("", HeaderCharset::Utf8), "");
    }

    #[test]
    fn suspicious_ascii_is_encoded() {
        let injected = "Hello\r\nBcc: everyone@example.org";
        let enc = encode_header_word(injected, HeaderCharset::Utf8);
        assert!(enc.starts_with("=?UTF-8?B?"));
        assert_eq!(decode(&enc), "Hello  Bcc: everyone@example.org");
        let enc = encode_header_word("a =?b?= c", HeaderCharset::Utf8);
        assert_eq!(decode(&enc), "a =?b?= c");
        let long = "x".repeat(1200);
        let enc = encode_header_word(&long, HeaderCharset::Utf8);
        check_shape(&enc, 0);
        assert_eq!(decode(&enc), long);
    }

    #[test]
    fn utf8_words_round_trip() {
        for s in SUBJECTS {
            for offset in [0, 9, 40, 70] {
                let enc = encode_header_word_after(s, HeaderCharset::Utf8, offset);
                check_shape(&enc, offset);
                assert_eq!(decode(&enc), s);
            }
            let enc = encode_header_word_after(s, HeaderCharset::Utf8, 9);
            assert_eq!(parse_subject(&enc), s);
        }
    }

    #[test]
    fn utf8_word_size_is_maximal() {
        let s = "あ".repeat(40);
        let enc = encode_header_word(&s, HeaderCharset::Utf8);
        let first = enc.split("\r\n").next().unwrap();
        // 45 bytes = 15 kana = 60 base64 characters + 12 of overhead.
        assert_eq!(first.len(), 72);
    }

    #[test]
    fn iso2022jp_words_round_trip() {
        for s in &SUBJECTS[..4] {
            for offset in [0, 9, 40, 70] {
                let enc = encode_header_word_after(s, HeaderCharset::Iso2022Jp, offset);
                check_shape(&enc, offset);
                assert_eq!(decode(&enc), *s);
            }
            let enc = encode_header_word_after(s, HeaderCharset::Iso2022Jp, 9);
            assert_eq!(enc.starts_with("=?ISO-2022-JP?B?"), !s.is_ascii());
            assert_eq!(parse_subject(&enc), *s);
        }
    }

    #[test]
    fn iso2022jp_replaces_what_it_cannot_carry() {
        let enc = encode_header_word(SUBJECTS[4], HeaderCharset::Iso2022Jp);
        check_shape(&enc, 0);
        assert_eq!(
            decode(&enc),
            "ａｂｃ emoji and カタカナ mixed with a long tail of English words to force folding"
        );
    }

    #[test]
    fn wave_dash_in_subject() {
        let enc = encode_header_word("10時〜12時", HeaderCharset::Iso2022Jp);
        assert_eq!(decode(&enc), "10時～12時");
    }

    #[test]
    fn tiny_room_on_first_line_starts_with_fold() {
        let enc = encode_header_word_after("日本語", HeaderCharset::Utf8, 70);
        assert!(enc.starts_with("\r\n =?UTF-8?B?"));
        check_shape(&enc, 70);
        assert_eq!(decode(enc.trim_start()), "日本語");
    }
}
