//! What a reader who gets ISO-2022-JP (`newsletter.legacy_charset_domains`, e.g. docomo)
//! sees instead of a character that charset cannot carry: a readable stand-in (– → -,
//! ① → (1), ㈱ → (株), ™ → TM, é → e), nothing for emoji and invisible marks, and only for
//! what has no sensible stand-in the geta mark 〓. The renderer applies this table when it
//! encodes for those readers; the editorial checks show it to the editor, who may accept
//! the stand-ins into the text itself. Every stand-in is itself plain JIS X 0208 or ASCII
//! (`render::text::iso2022jp` tests each one).
//!
//! Pure: a table and a function.

/// The stand-in for `c`, which ISO-2022-JP cannot carry: `Some("")` drops it (emoji,
/// variation selectors, zero-width marks), `None` means there is no stand-in (the renderer
/// writes 〓).
pub fn replacement(c: char) -> Option<String> {
    let s = |x: &str| Some(x.to_owned());
    let u = c as u32;
    match c {
        // Dashes and hyphens.
        '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{FE58}' | '\u{FE63}' => s("-"),
        '\u{2053}' | '\u{301C}' => s("～"),
        // Spaces and invisible marks.
        '\u{00A0}' | '\u{2002}'..='\u{200A}' | '\u{202F}' | '\u{205F}' => s(" "),
        '\u{200B}'..='\u{200F}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' => s(""),
        // Emoji, pictographs, their modifiers and joiners, keycaps.
        '\u{FE00}'..='\u{FE0F}' | '\u{20E3}' | '\u{E0020}'..='\u{E007F}' => s(""),
        // Circled and parenthesised numbers: ① → (1).
        '\u{2460}'..='\u{2473}' => Some(format!("({})", u - 0x2460 + 1)),
        '\u{2474}'..='\u{2487}' => Some(format!("({})", u - 0x2474 + 1)),
        '\u{2488}'..='\u{249B}' => Some(format!("{}.", u - 0x2488 + 1)),
        '\u{24EA}' => s("(0)"),
        '\u{2776}'..='\u{277F}' => Some(format!("({})", u - 0x2776 + 1)),
        '\u{3251}'..='\u{325F}' => Some(format!("({})", u - 0x3251 + 21)),
        '\u{32B1}'..='\u{32BF}' => Some(format!("({})", u - 0x32B1 + 36)),
        // Roman numerals.
        '\u{2160}'..='\u{216B}' => s(ROMAN_UPPER[(u - 0x2160) as usize]),
        '\u{2170}'..='\u{217B}' => s(ROMAN_LOWER[(u - 0x2170) as usize]),
        // Parenthesised and circled ideographs (company forms).
        '㈱' => s("(株)"),
        '㈲' => s("(有)"),
        '㈹' => s("(代)"),
        '㈳' => s("(社)"),
        '㈶' => s("(財)"),
        '㈴' => s("(名)"),
        '㈵' => s("(特)"),
        '㈻' => s("(学)"),
        '㈼' => s("(監)"),
        '㊤' => s("(上)"),
        '㊥' => s("(中)"),
        '㊦' => s("(下)"),
        '㊧' => s("(左)"),
        '㊨' => s("(右)"),
        // Era names and squared words.
        '㍻' => s("平成"),
        '㍼' => s("昭和"),
        '㍽' => s("大正"),
        '㍾' => s("明治"),
        '㋿' => s("令和"),
        '㍉' => s("ミリ"),
        '㌔' => s("キロ"),
        '㌢' => s("センチ"),
        '㍍' => s("メートル"),
        '㌘' => s("グラム"),
        '㌧' => s("トン"),
        '㌃' => s("アール"),
        '㌶' => s("ヘクタール"),
        '㍑' => s("リットル"),
        '㍗' => s("ワット"),
        '㌍' => s("カロリー"),
        '㌦' => s("ドル"),
        '㌣' => s("セント"),
        '㌫' => s("パーセント"),
        '㍊' => s("ミリバール"),
        '㌻' => s("ページ"),
        // Units and signs.
        '㎜' => s("mm"),
        '㎝' => s("cm"),
        '㎞' => s("km"),
        '㎎' => s("mg"),
        '㎏' => s("kg"),
        '㏄' => s("cc"),
        '㎡' => s("m2"),
        '㎥' => s("m3"),
        '№' => s("No."),
        '℡' => s("TEL"),
        '™' => s("TM"),
        '©' => s("(c)"),
        '®' => s("(R)"),
        '€' => s("EUR"),
        '•' | '·' | '‧' => s("・"),
        '‣' | '⁃' => s("-"),
        '‚' => s(","),
        '„' => s("“"),
        '‹' => s("<"),
        '›' => s(">"),
        '«' => s("<<"),
        '»' => s(">>"),
        '½' => s("1/2"),
        '¼' => s("1/4"),
        '¾' => s("3/4"),
        '¹' => s("1"),
        '²' => s("2"),
        '³' => s("3"),
        '∑' => s("Σ"),
        '∟' => s("∠"),
        '⊿' => s("△"),
        '✓' | '✔' => s("レ"),
        // Other pictographs and emoji (after the dingbats above that have a stand-in).
        '\u{1F000}'..='\u{1FAFF}' | '\u{2600}'..='\u{27BF}' | '\u{2B00}'..='\u{2BFF}' => s(""),
        // Latin letters with accents: the base letter.
        _ => latin_base(c).map(|b| b.to_string()),
    }
}

const ROMAN_UPPER: [&str; 12] = [
    "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII",
];
const ROMAN_LOWER: [&str; 12] = [
    "i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x", "xi", "xii",
];

fn latin_base(c: char) -> Option<&'static str> {
    Some(match c {
        'À'..='Å' | 'Ā' | 'Ă' | 'Ą' => "A",
        'à'..='å' | 'ā' | 'ă' | 'ą' => "a",
        'Æ' => "AE",
        'æ' => "ae",
        'Ç' | 'Ć' | 'Č' => "C",
        'ç' | 'ć' | 'č' => "c",
        'È'..='Ë' | 'Ē' | 'Ė' | 'Ę' | 'Ě' => "E",
        'è'..='ë' | 'ē' | 'ė' | 'ę' | 'ě' => "e",
        'Ì'..='Ï' | 'Ī' | 'İ' => "I",
        'ì'..='ï' | 'ī' | 'ı' => "i",
        'Ñ' | 'Ń' | 'Ň' => "N",
        'ñ' | 'ń' | 'ň' => "n",
        'Ò'..='Ö' | 'Ø' | 'Ō' | 'Ő' => "O",
        'ò'..='ö' | 'ø' | 'ō' | 'ő' => "o",
        'Œ' => "OE",
        'œ' => "oe",
        'Ù'..='Ü' | 'Ū' | 'Ů' | 'Ű' => "U",
        'ù'..='ü' | 'ū' | 'ů' | 'ű' => "u",
        'Ý' | 'Ÿ' => "Y",
        'ý' | 'ÿ' => "y",
        'ß' => "ss",
        'Š' | 'Ś' => "S",
        'š' | 'ś' => "s",
        'Ž' | 'Ź' | 'Ż' => "Z",
        'ž' | 'ź' | 'ż' => "z",
        'Ł' => "L",
        'ł' => "l",
        'Ř' => "R",
        'ř' => "r",
        'Đ' | 'Ď' => "D",
        'đ' | 'ď' => "d",
        'Ť' => "T",
        'ť' => "t",
        'Ğ' => "G",
        'ğ' => "g",
        _ => return None,
    })
}

/// How a replacement reads in a list for editors: `–` → `-`, `😀` → (dropped).
pub fn describe(c: char) -> (String, String) {
    match replacement(c) {
        Some(r) if r.is_empty() => ("（削除）".into(), "(dropped)".into()),
        Some(r) => (r.clone(), r),
        None => ("〓".into(), "〓".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_common_cases() {
        assert_eq!(replacement('–').as_deref(), Some("-"));
        assert_eq!(replacement('①').as_deref(), Some("(1)"));
        assert_eq!(replacement('⑳').as_deref(), Some("(20)"));
        assert_eq!(replacement('㈱').as_deref(), Some("(株)"));
        assert_eq!(replacement('😀').as_deref(), Some(""));
        assert_eq!(replacement('\u{FE0F}').as_deref(), Some(""));
        assert_eq!(replacement('Ⅻ').as_deref(), Some("XII"));
        assert_eq!(replacement('é').as_deref(), Some("e"));
        assert_eq!(replacement('㋿').as_deref(), Some("令和"));
        assert_eq!(replacement('ꙮ'), None);
        assert_eq!(describe('😀').1, "(dropped)");
    }
}
