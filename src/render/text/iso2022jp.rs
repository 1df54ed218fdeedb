//! ISO-2022-JP (RFC 1468) encoding with per-character diagnostics.
//!
//! `encoding_rs` implements the WHATWG ISO-2022-JP encoder, which is built
//! for the web rather than for strict RFC 1468 mail, and differs in ways
//! that matter for a newsletter (all verified by the tests below):
//!
//! * **It carries more than JIS X 0208.**  Its `jis0208` index is Microsoft's
//!   CP932 table, so NEC row 13 (`①`–`⑳`, `Ⅰ`, `㈱`, `№`, `㍻`, `㎝` …) and the
//!   NEC-selected IBM extensions in rows 89–92 (`髙`, `﨑`, `纊`, `ⅰ` …) are
//!   encoded without error.  Those rows are empty in JIS X 0208:1990, so
//!   strict or older Japanese mail readers show garbage or nothing.  We treat
//!   every character outside rows 1–8 and 16–84 as unencodable.
//! * **WAVE DASH and friends.**  The index maps JIS 0x2141 to U+FF5E `～`
//!   (FULLWIDTH TILDE), not U+301C `〜` (WAVE DASH), which macOS and JIS-style
//!   input methods produce; `encoding_rs` *fails* on `〜` (and likewise on
//!   `‖` U+2016, `—` U+2014, `¢`, `£`, `¬`).  These are the same JIS code
//!   points under the JIS and Microsoft conventions, so we map them to the
//!   Microsoft form before encoding (see [`JIS_VARIANTS`]).  Decoding gives
//!   the Microsoft form back (`〜` comes back as `～`), the only case where a
//!   successful encode does not round-trip exactly.  U+2212 MINUS SIGN is
//!   mapped to `－` U+FF0D by the encoder itself, with the same effect.
//! * **Half-width katakana** (`ｶﾀｶﾅ`, forbidden by RFC 1468) are silently
//!   converted to full-width by the encoder (`ｶﾞ` becomes `カ゛`).  We report
//!   them; the lossy encoder keeps that conversion instead of a geta mark,
//!   because the result is still readable.
//! * **Failures become HTML character references** (`&#128512;`) in the
//!   output rather than errors; we never let one through.
//! * **Lines may end in JIS-Roman state** (after `¥` / `‾`, which it encodes
//!   with `ESC ( J`).  RFC 1468 permits that, but text must end in ASCII and
//!   many readers reset state at line ends, so we encode line by line:
//!   every line ends in ASCII.
//!
//! ESC, SO and SI cannot be carried (they would corrupt the shift state) and
//! are reported.  Positions are 1-based; lines are separated by `\n`, columns
//! count Unicode scalar values (chars), not bytes or display columns.

use std::fmt;

use encoding_rs::{EncoderResult, ISO_2022_JP};

/// Stand-in for characters ISO-2022-JP cannot carry: GETA MARK, JIS 0x222E,
/// the traditional Japanese typesetting mark for a missing glyph.
pub const SUBSTITUTE: char = '〓';

/// Characters whose JIS X 0208 code point `encoding_rs` knows only under its
/// Microsoft (CP932) Unicode mapping: (as typed, as the index spells it).
pub const JIS_VARIANTS: [(char, char); 7] = [
    ('\u{301C}', '\u{FF5E}'), // WAVE DASH → FULLWIDTH TILDE (JIS 0x2141)
    ('\u{2016}', '\u{2225}'), // DOUBLE VERTICAL LINE → PARALLEL TO (0x2142)
    ('\u{2014}', '\u{2015}'), // EM DASH → HORIZONTAL BAR (0x213D)
    ('\u{2212}', '\u{FF0D}'), // MINUS SIGN → FULLWIDTH HYPHEN-MINUS (0x215D)
    ('\u{00A2}', '\u{FFE0}'), // CENT SIGN → FULLWIDTH CENT SIGN (0x2171)
    ('\u{00A3}', '\u{FFE1}'), // POUND SIGN → FULLWIDTH POUND SIGN (0x2172)
    ('\u{00AC}', '\u{FFE2}'), // NOT SIGN → FULLWIDTH NOT SIGN (0x224C)
];

/// A character that ISO-2022-JP (strict JIS X 0208) cannot carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unencodable {
    /// 1-based line number (lines separated by `\n`).
    pub line: usize,
    /// 1-based column, counted in chars.
    pub col: usize,
    /// The offending character.
    pub ch: char,
}

impl fmt::Display for Unencodable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {:?} (U+{:04X}) cannot be sent as ISO-2022-JP",
            self.line, self.col, self.ch, self.ch as u32
        )
    }
}

/// How one character fares in ISO-2022-JP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Carried faithfully, possibly under its Microsoft mapping.
    Carried(char),
    /// Carried only as a different character (half-width → full-width).
    Converted(char),
    /// Cannot be carried at all.
    Lost,
}

/// JIS X 0208:1990 rows that are actually assigned (row 84 has 6 cells; the
/// index has nothing beyond those in these rows, checked in the tests).
fn standard_row(row: u8) -> bool {
    matches!(row, 1..=8 | 16..=84)
}

fn fate(c: char) -> Fate {
    if c.is_ascii() {
        return if matches!(c, '\x1B' | '\x0E' | '\x0F') {
            Fate::Lost
        } else {
            Fate::Carried(c)
        };
    }
    let c = JIS_VARIANTS
        .iter()
        .find(|(from, _)| *from == c)
        .map_or(c, |&(_, to)| to);
    let mut src = [0u8; 4];
    let src = c.encode_utf8(&mut src);
    let mut dst = [0u8; 16];
    let mut encoder = ISO_2022_JP.new_encoder();
    let (result, _, written) = encoder.encode_from_utf8_without_replacement(src, &mut dst, true);
    if !matches!(result, EncoderResult::InputEmpty) {
        return Fate::Lost;
    }
    match &dst[..written] {
        // JIS X 0201 Roman: ¥ and ‾.
        [0x1B, b'(', b'J', _, 0x1B, b'(', b'B'] => Fate::Carried(c),
        [0x1B, b'$', b'B', lead, _, 0x1B, b'(', b'B'] if standard_row(lead - 0x20) => {
            let (decoded, _) = ISO_2022_JP.decode_without_bom_handling(&dst[..written]);
            match decoded.chars().next() {
                Some(d) if d == c => Fate::Carried(c),
                Some(d) => Fate::Converted(d),
                None => Fate::Lost,
            }
        }
        _ => Fate::Lost,
    }
}

/// Map `text` to characters that encode cleanly, collecting the problems.
/// Lost characters become their stand-in from `domain::legacy_charset` (– → -,
/// ① → (1), emoji dropped) or, without one, [`SUBSTITUTE`]; converted ones their
/// conversion.
fn prepare(text: &str) -> (String, Vec<Unencodable>) {
    let mut out = String::with_capacity(text.len());
    let mut problems = Vec::new();
    for (line_no, line) in text.split('\n').enumerate() {
        if line_no > 0 {
            out.push('\n');
        }
        for (col, c) in line.chars().enumerate() {
            let fate = if c.is_ascii() && c > '\x1B' {
                Fate::Carried(c) // fast path for the common case
            } else {
                fate(c)
            };
            let replacement = match fate {
                Fate::Carried(m) => {
                    out.push(m);
                    continue;
                }
                Fate::Converted(m) => m,
                Fate::Lost => match crate::domain::legacy_charset::replacement(c) {
                    Some(r) => {
                        problems.push(Unencodable {
                            line: line_no + 1,
                            col: col + 1,
                            ch: c,
                        });
                        out.push_str(&r);
                        continue;
                    }
                    None => SUBSTITUTE,
                },
            };
            problems.push(Unencodable {
                line: line_no + 1,
                col: col + 1,
                ch: c,
            });
            out.push(replacement);
        }
    }
    (out, problems)
}

/// Encode text whose every character is known to be carried.  Each line is
/// encoded separately so that it ends in ASCII (see module docs).
pub(crate) fn encode_prepared(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 16);
    for (n, line) in text.split('\n').enumerate() {
        if n > 0 {
            out.push(b'\n');
        }
        let (bytes, _, had_errors) = ISO_2022_JP.encode(line);
        // `prepare` only lets through characters the encoder accepts; an
        // error here would emit an HTML character reference into the mail.
        debug_assert!(!had_errors, "unencodable char slipped through: {line:?}");
        out.extend_from_slice(&bytes);
    }
    out
}

/// Every character of `text` that cannot be sent as strict ISO-2022-JP.
pub fn check_iso2022jp(text: &str) -> Vec<Unencodable> {
    prepare(text).1
}

/// Encode `text` as ISO-2022-JP, or list every character that cannot be
/// carried (with 1-based line and char column).
///
/// Line breaks are kept as they are (`\n` or `\r\n`); each line ends in
/// ASCII.  The output is 7-bit.  Line length is not checked here: text from
/// [`super::wrap()`] stays far below 998 octets in practice, because escape
/// sequences are only 3 bytes per script switch.
pub fn to_iso2022jp(text: &str) -> Result<Vec<u8>, Vec<Unencodable>> {
    let (prepared, problems) = prepare(text);
    if problems.is_empty() {
        Ok(encode_prepared(&prepared))
    } else {
        Err(problems)
    }
}

/// Encode `text` as ISO-2022-JP whatever it contains: characters that
/// cannot be carried become their stand-in (`domain::legacy_charset`) or,
/// without one, [`SUBSTITUTE`] (`〓`), half-width katakana
/// become full-width.  Returns the bytes and what was replaced.
pub fn lossy_iso2022jp(text: &str) -> (Vec<u8>, Vec<Unencodable>) {
    let (prepared, problems) = prepare(text);
    (encode_prepared(&prepared), problems)
}

/// What a reader who gets ISO-2022-JP sees instead of `c`: `c` itself when it is
/// carried, its conversion (half-width katakana), its stand-in from
/// `domain::legacy_charset` (possibly empty: dropped), or `None` for 〓.
pub fn legacy_stand_in(c: char) -> Option<String> {
    match fate(c) {
        Fate::Carried(_) => Some(c.to_string()),
        Fate::Converted(m) => Some(m.to_string()),
        Fate::Lost => crate::domain::legacy_charset::replacement(c),
    }
}

/// The text after lossy substitution (what [`lossy_iso2022jp`] encodes),
/// for previews and for header encoding.
pub(crate) fn lossy_text(text: &str) -> String {
    prepare(text).0
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEWS: &str = "技能実習生の権利を守るために\n\
        私たちは2015年から、外国人技能実習生のための無料相談窓口を運営してきました。\
        今年度の相談件数は過去最多の412件にのぼり、その多くが賃金未払い、長時間労働、\
        パスポートの取り上げといった深刻な人権侵害に関するものでした。\n\
        詳しくは年次報告書（https://example.org/reports/2024/annual-report.pdf）をご覧ください。\n\
        \n\
        ■ 相談会のお知らせ：毎週土曜日 10:00～16:00、参加費は¥0です。\n\
        「一人で悩まないで」――Please share this with friends & colleagues!\n";

    fn decode(bytes: &[u8]) -> String {
        let (text, had_errors) = ISO_2022_JP.decode_without_bom_handling(bytes);
        assert!(!had_errors);
        text.into_owned()
    }

    #[test]
    fn round_trips_realistic_text() {
        let bytes = to_iso2022jp(NEWS).expect("encodable");
        assert!(bytes.iter().all(u8::is_ascii), "ISO-2022-JP is 7-bit");
        assert_eq!(decode(&bytes), NEWS);
        // Every line ends in ASCII: no line ends inside an escape state.
        for line in bytes.split(|&b| b == b'\n') {
            if let Some(pos) = line.windows(3).rposition(|w| w[0] == 0x1B) {
                assert_eq!(&line[pos..pos + 3], b"\x1B(B");
            }
        }
    }

    #[test]
    fn yen_line_ends_in_ascii() {
        let bytes = to_iso2022jp("¥100\nabc").unwrap();
        assert_eq!(bytes, b"\x1B(J\\100\x1B(B\nabc");
        assert_eq!(decode(&bytes), "¥100\nabc");
    }

    #[test]
    fn reports_positions_of_unencodable_chars() {
        let text = "第1回①会議\n㈱テスト😀\ncafé 髙橋さん";
        let errs = to_iso2022jp(text).unwrap_err();
        let got: Vec<(usize, usize, char)> = errs.iter().map(|e| (e.line, e.col, e.ch)).collect();
        assert_eq!(
            got,
            [
                (1, 4, '①'),
                (2, 1, '㈱'),
                (2, 5, '😀'),
                (3, 4, 'é'),
                (3, 6, '髙')
            ]
        );
        assert_eq!(
            errs[0].to_string(),
            "line 1, column 4: '①' (U+2460) cannot be sent as ISO-2022-JP"
        );
        assert_eq!(check_iso2022jp(text), errs);
    }

    #[test]
    fn nec_and_ibm_extensions_are_rejected_although_encoding_rs_accepts_them() {
        for c in ['①', '⑳', 'Ⅰ', '㈱', '№', '㍻', '髙', '﨑', '纊', 'ⅰ'] {
            let (_, _, had_errors) = ISO_2022_JP.encode(&c.to_string());
            assert!(!had_errors, "encoding_rs carries {c}");
            assert_eq!(fate(c), Fate::Lost, "{c}");
        }
        // Look-alikes that are in JIS X 0208 row 2 pass.
        for c in ['∵', '≒', '∪', '￢', '※', '〓', '■', '…'] {
            assert_eq!(fate(c), Fate::Carried(c), "{c}");
        }
    }

    #[test]
    fn wave_dash_and_variants_are_mapped() {
        for (from, to) in JIS_VARIANTS {
            let bytes = to_iso2022jp(&from.to_string()).unwrap();
            assert_eq!(decode(&bytes), to.to_string(), "{from}");
            assert_eq!(bytes, to_iso2022jp(&to.to_string()).unwrap());
        }
        // 〜 is JIS 0x2141, the same bytes as ～.
        assert_eq!(to_iso2022jp("〜").unwrap(), b"\x1B$B!A\x1B(B");
        // encoding_rs on its own would emit a character reference.
        let (raw, _, had_errors) = ISO_2022_JP.encode("〜");
        assert!(had_errors);
        assert_eq!(&raw[..], b"&#12316;");
    }

    #[test]
    fn halfwidth_katakana_reported_and_converted() {
        let errs = to_iso2022jp("ｶﾀｶﾅ").unwrap_err();
        assert_eq!(errs.len(), 4);
        let (bytes, errs) = lossy_iso2022jp("ｶﾞｲﾄﾞ");
        assert_eq!(errs.len(), 5);
        assert_eq!(decode(&bytes), "カ゛イト゛");
    }

    #[test]
    fn lossy_substitutes_geta() {
        let (bytes, errs) = lossy_iso2022jp("会議は①から😀\x1B–ꙮ㈱");
        assert_eq!(decode(&bytes), "会議は(1)から〓-〓(株)");
        assert_eq!(errs.iter().map(|e| e.ch).collect::<String>(), "①😀\x1B–ꙮ㈱");
        let (bytes, errs) = lossy_iso2022jp(NEWS);
        assert!(errs.is_empty());
        assert_eq!(decode(&bytes), NEWS);
    }

    #[test]
    fn every_stand_in_is_carried() {
        let mut replaced = 0;
        for u in (0x80u32..0x3_0000).chain(0xE_0020..0xE_0080) {
            let Some(c) = char::from_u32(u) else { continue };
            if let Some(r) = crate::domain::legacy_charset::replacement(c) {
                assert!(
                    to_iso2022jp(&r).is_ok(),
                    "stand-in {r:?} for {c:?} is not carried"
                );
                if fate(c) == Fate::Lost {
                    replaced += 1;
                }
            }
        }
        assert!(replaced > 1000, "{replaced}");
    }

    #[test]
    fn only_standard_rows_pass() {
        // Walk every cell the decoder knows and confirm that what passes our
        // check is exactly JIS X 0208:1990 (6879 characters).
        let mut carried = 0;
        for lead in 0x21u8..=0x7E {
            for trail in 0x21u8..=0x7E {
                let bytes = [0x1B, b'$', b'B', lead, trail, 0x1B, b'(', b'B'];
                let (text, had_errors) = ISO_2022_JP.decode_without_bom_handling(&bytes);
                if had_errors {
                    continue;
                }
                let c = text.chars().next().unwrap();
                if fate(c) == Fate::Carried(c) && to_iso2022jp(&text).unwrap() == bytes {
                    carried += 1;
                }
            }
        }
        assert_eq!(carried, 6879);
    }

    #[test]
    fn crlf_and_empty_input() {
        assert_eq!(to_iso2022jp("").unwrap(), b"");
        let bytes = to_iso2022jp("日本\r\nabc\r\n").unwrap();
        assert_eq!(decode(&bytes), "日本\r\nabc\r\n");
        assert_eq!(&bytes[..12], b"\x1B$BF|K\\\x1B(B\r\n");
    }
}
