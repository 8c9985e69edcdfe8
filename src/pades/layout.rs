//! Where text is on a page: enough of a content-stream interpreter (text state, text and
//! graphics matrices, simple and CID fonts with their ToUnicode maps and widths) to find the
//! lines a Vietnamese draft leaves for the clerk: "Số:" and "ngày … tháng … năm".

use std::collections::HashMap;

use super::pdf::{Dict, Document, Object, Parser};
use super::Error;

/// A line of text on a page with the x position of each character (user space, points).
#[derive(Clone, Debug, Default)]
pub struct TextLine {
    /// Baseline y.
    pub y: f64,
    /// The characters.
    pub chars: Vec<char>,
    /// Start x of each character.
    pub xs: Vec<f64>,
    /// End x of each character.
    pub ends: Vec<f64>,
    /// Font size (effective, points).
    pub size: f64,
}

impl TextLine {
    /// The line as a string.
    pub fn text(&self) -> String {
        self.chars.iter().collect()
    }

    /// Index of the first char of `needle` in the line.
    pub fn find(&self, needle: &str) -> Option<usize> {
        let hay: Vec<char> = self.chars.clone();
        let pat: Vec<char> = needle.chars().collect();
        hay.windows(pat.len()).position(|w| w == pat.as_slice())
    }
}

struct FontInfo {
    two_byte: bool,
    to_unicode: HashMap<u32, String>,
    widths: HashMap<u32, f64>,
    default_width: f64,
}

fn parse_cmap(data: &[u8]) -> HashMap<u32, String> {
    let mut map = HashMap::new();
    let text = String::from_utf8_lossy(data);
    let hex = |s: &str| u32::from_str_radix(s.trim_matches(|c| c == '<' || c == '>'), 16).ok();
    let utf16 = |s: &str| {
        let s = s.trim_matches(|c| c == '<' || c == '>').as_bytes();
        // Bytes, not a str slice: the stream may hold non-ASCII text.
        let units: Vec<u16> = s
            .chunks_exact(4)
            .filter_map(|quad| std::str::from_utf8(quad).ok())
            .filter_map(|quad| u16::from_str_radix(quad, 16).ok())
            .collect();
        String::from_utf16_lossy(&units)
    };
    let mut in_char = false;
    let mut in_range = false;
    for line in text.lines() {
        let line = line.trim();
        if line.ends_with("beginbfchar") {
            in_char = true;
            continue;
        }
        if line.ends_with("beginbfrange") {
            in_range = true;
            continue;
        }
        if line.starts_with("endbfchar") {
            in_char = false;
            continue;
        }
        if line.starts_with("endbfrange") {
            in_range = false;
            continue;
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        if in_char && parts.len() >= 2 {
            if let Some(code) = hex(parts[0]) {
                map.insert(code, utf16(parts[1]));
            }
        } else if in_range && parts.len() >= 3 {
            let (Some(lo), Some(hi)) = (hex(parts[0]), hex(parts[1])) else {
                continue;
            };
            if parts[2].starts_with('[') {
                let items: Vec<&str> = line[line.find('[').unwrap_or(0) + 1..]
                    .trim_end_matches(']')
                    .split_whitespace()
                    .collect();
                for (i, item) in items.iter().enumerate() {
                    map.insert(lo.saturating_add(i as u32), utf16(item));
                }
            } else if let Some(base) = parts[2].strip_prefix('<').and_then(|s| s.strip_suffix('>'))
            {
                let Ok(start) = u32::from_str_radix(base, 16) else {
                    continue;
                };
                for (i, code) in (lo..=hi.min(lo.saturating_add(65535))).enumerate() {
                    if let Some(c) = start.checked_add(i as u32).and_then(char::from_u32) {
                        map.insert(code, c.to_string());
                    }
                }
            }
        }
    }
    map
}

/// The widths (per 1000 em, codes 32–255 as Latin-1) of a standard 14 font, from the
/// Liberation font with the same metrics; read once per process.
fn standard_widths(base: &[u8]) -> Option<std::sync::Arc<HashMap<u32, f64>>> {
    use std::sync::{Arc, Mutex, OnceLock};
    type Cache = Mutex<HashMap<String, Option<Arc<HashMap<u32, f64>>>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let name = String::from_utf8_lossy(base);
    // A subset prefix ("ABCDEF+Helvetica") is not part of the name.
    let name = name
        .split_once('+')
        .map_or(name.as_ref(), |(_, n)| n)
        .to_string();
    let family = if name.starts_with("Helvetica") || name.starts_with("Arial") {
        "Sans"
    } else if name.starts_with("Times") {
        "Serif"
    } else if name.starts_with("Courier") {
        "Mono"
    } else {
        return None;
    };
    let bold = name.contains("Bold");
    let italic = name.contains("Italic") || name.contains("Oblique");
    let style = match (bold, italic) {
        (true, true) => "BoldItalic",
        (true, false) => "Bold",
        (false, true) => "Italic",
        (false, false) => "Regular",
    };
    let file = format!("Liberation{family}-{style}.ttf");
    let cache = CACHE.get_or_init(Cache::default);
    let mut cache = cache.lock().ok()?;
    cache
        .entry(file.clone())
        .or_insert_with(|| {
            let path = super::text::system_font(&file)?;
            let data = std::fs::read(path).ok()?;
            let face = ttf_parser::Face::parse(&data, 0).ok()?;
            let em = f64::from(face.units_per_em().max(1));
            let widths = (32u32..=255)
                .filter_map(|code| {
                    let glyph = face.glyph_index(char::from_u32(code)?)?;
                    let advance = f64::from(face.glyph_hor_advance(glyph)?);
                    Some((code, advance * 1000.0 / em))
                })
                .collect();
            Some(Arc::new(widths))
        })
        .clone()
}

fn font_info(doc: &Document<'_>, font: &Dict) -> FontInfo {
    let subtype = font
        .get(b"Subtype")
        .and_then(Object::as_name)
        .unwrap_or(b"");
    let two_byte = subtype == b"Type0";
    let to_unicode = match font.get(b"ToUnicode") {
        Some(r) => {
            let stream = doc.resolve(r);
            doc.stream_data(&stream)
                .map(|d| parse_cmap(&d))
                .unwrap_or_default()
        }
        None => HashMap::new(),
    };
    let mut widths = HashMap::new();
    let mut default_width = if two_byte { 1000.0 } else { 500.0 };
    if two_byte {
        let descendant = doc
            .get(font, b"DescendantFonts")
            .as_array()
            .and_then(|a| a.first().cloned())
            .map(|d| doc.resolve(&d));
        if let Some(cid) = descendant.as_ref().and_then(Object::as_dict) {
            default_width = doc.get(cid, b"DW").as_f64().unwrap_or(1000.0);
            let w = doc.get(cid, b"W");
            let items = w.as_array().cloned().unwrap_or_default();
            let mut i = 0;
            while i < items.len() {
                let first = items[i].as_int().unwrap_or(0) as u32;
                match items.get(i + 1).map(|o| doc.resolve(o)) {
                    Some(Object::Array(list)) => {
                        for (k, v) in list.iter().enumerate() {
                            widths.insert(
                                first.saturating_add(k as u32),
                                v.as_f64().unwrap_or(default_width),
                            );
                        }
                        i += 2;
                    }
                    Some(last) => {
                        let last = last.as_int().unwrap_or(0) as u32;
                        let width = items
                            .get(i + 2)
                            .and_then(Object::as_f64)
                            .unwrap_or(default_width);
                        for c in first..=last.min(first.saturating_add(65535)) {
                            widths.insert(c, width);
                        }
                        i += 3;
                    }
                    None => break,
                }
            }
        }
    } else {
        let first = doc.get(font, b"FirstChar").as_int().unwrap_or(0) as u32;
        if let Some(list) = doc.get(font, b"Widths").as_array() {
            for (k, v) in list.iter().enumerate() {
                widths.insert(
                    first.saturating_add(k as u32),
                    doc.resolve(v).as_f64().unwrap_or(500.0),
                );
            }
        } else if let Some(base) = font.get(b"BaseFont").and_then(Object::as_name) {
            // A standard 14 font may come without /Widths: its metrics are the metric-compatible
            // Liberation font's (Helvetica = Sans, Times = Serif, Courier = Mono).
            if let Some(standard) = standard_widths(base) {
                widths.extend(standard.iter());
            }
        }
    }
    FontInfo {
        two_byte,
        to_unicode,
        widths,
        default_width,
    }
}

type Matrix = [f64; 6];

fn multiply(a: &Matrix, b: &Matrix) -> Matrix {
    [
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
        a[4] * b[0] + a[5] * b[2] + b[4],
        a[4] * b[1] + a[5] * b[3] + b[5],
    ]
}

const IDENTITY: Matrix = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];

enum Item {
    Operand(Object),
    Op(Vec<u8>),
}

fn next_item(p: &mut Parser<'_>, data: &[u8]) -> Option<Item> {
    p.skip_ws();
    let b = *data.get(p.pos)?;
    if matches!(b, b'/' | b'(' | b'<' | b'[' | b'+' | b'-' | b'.') || b.is_ascii_digit() {
        return match p.object(0) {
            Ok(o) => Some(Item::Operand(o)),
            Err(_) => {
                p.pos += 1;
                Some(Item::Op(Vec::new()))
            }
        };
    }
    let token = p.token().to_vec();
    if token.is_empty() {
        p.pos += 1;
        return Some(Item::Op(Vec::new()));
    }
    match token.as_slice() {
        b"true" => Some(Item::Operand(Object::Bool(true))),
        b"false" => Some(Item::Operand(Object::Bool(false))),
        b"null" => Some(Item::Operand(Object::Null)),
        _ => Some(Item::Op(token)),
    }
}

/// The text lines of page `page` (from 1), top to bottom.
///
/// # Errors
/// A page that does not exist or a broken document.
pub fn text_lines(doc: &Document<'_>, page: usize) -> Result<Vec<TextLine>, Error> {
    let pages = doc.pages()?;
    let (_, dict) = pages
        .get(page.wrapping_sub(1))
        .ok_or_else(|| Error::PlacementNotFound(format!("no page {page}")))?;
    let resources = doc.inherited(dict, b"Resources");
    let fonts = resources
        .as_dict()
        .map(|r| doc.get(r, b"Font"))
        .unwrap_or(Object::Null);
    let mut content = Vec::new();
    match dict.get(b"Contents").map(|c| doc.resolve(c)) {
        Some(Object::Array(items)) => {
            for item in items {
                content.extend(doc.stream_data(&doc.resolve(&item)).unwrap_or_default());
                content.push(b'\n');
            }
        }
        Some(stream @ Object::Stream(..)) => content = doc.stream_data(&stream).unwrap_or_default(),
        _ => {}
    }
    let mut cache: HashMap<Vec<u8>, FontInfo> = HashMap::new();
    let mut glyphs: Vec<(f64, f64, f64, char, f64)> = Vec::new(); // x, y, end x, char, size
    let mut operands: Vec<Object> = Vec::new();
    let mut ctm = IDENTITY;
    let mut stack: Vec<Matrix> = Vec::new();
    let (mut tm, mut tlm) = (IDENTITY, IDENTITY);
    let (mut tc, mut tw, mut th, mut tl, mut fs) = (0.0, 0.0, 1.0, 0.0, 12.0);
    let mut font_name: Vec<u8> = Vec::new();
    let mut p = Parser::new(&content, 0);
    let num = |o: &Object| o.as_f64().unwrap_or(0.0);
    while let Some(item) = next_item(&mut p, &content) {
        let op = match item {
            Item::Operand(o) => {
                operands.push(o);
                continue;
            }
            Item::Op(op) => op,
        };
        let n = operands.len();
        let arg = |i: usize| operands.get(n.wrapping_sub(i)).map(num).unwrap_or(0.0);
        match op.as_slice() {
            b"q" => stack.push(ctm),
            b"Q" => ctm = stack.pop().unwrap_or(IDENTITY),
            b"cm" if n >= 6 => {
                ctm = multiply(&[arg(6), arg(5), arg(4), arg(3), arg(2), arg(1)], &ctm)
            }
            b"BT" => {
                tm = IDENTITY;
                tlm = IDENTITY;
            }
            b"Tc" => tc = arg(1),
            b"Tw" => tw = arg(1),
            b"Tz" => th = arg(1) / 100.0,
            b"TL" => tl = arg(1),
            b"Tf" if n >= 2 => {
                font_name = operands[n - 2]
                    .as_name()
                    .map(<[u8]>::to_vec)
                    .unwrap_or_default();
                fs = arg(1);
            }
            b"Tm" if n >= 6 => {
                tm = [arg(6), arg(5), arg(4), arg(3), arg(2), arg(1)];
                tlm = tm;
            }
            b"Td" | b"TD" if n >= 2 => {
                if op == b"TD" {
                    tl = -arg(1);
                }
                tlm = multiply(&[1.0, 0.0, 0.0, 1.0, arg(2), arg(1)], &tlm);
                tm = tlm;
            }
            b"T*" => {
                tlm = multiply(&[1.0, 0.0, 0.0, 1.0, 0.0, -tl], &tlm);
                tm = tlm;
            }
            b"Tj" | b"'" | b"\"" | b"TJ" => {
                if op == b"'" || op == b"\"" {
                    if op == b"\"" && n >= 3 {
                        tw = arg(3);
                        tc = arg(2);
                    }
                    tlm = multiply(&[1.0, 0.0, 0.0, 1.0, 0.0, -tl], &tlm);
                    tm = tlm;
                }
                if !cache.contains_key(&font_name) {
                    let dict = fonts
                        .as_dict()
                        .map(|f| doc.get(f, &font_name))
                        .and_then(|o| o.as_dict().cloned())
                        .unwrap_or_default();
                    cache.insert(font_name.clone(), font_info(doc, &dict));
                }
                let Some(font) = cache.get(&font_name) else {
                    continue;
                };
                let parts: Vec<Object> = match operands.last() {
                    Some(Object::Array(items)) => items.clone(),
                    Some(other) => vec![other.clone()],
                    None => Vec::new(),
                };
                for part in parts {
                    match part {
                        Object::String(bytes) => {
                            let codes: Vec<u32> = if font.two_byte {
                                bytes
                                    .chunks(2)
                                    .map(|c| {
                                        (u32::from(c[0]) << 8) | u32::from(*c.get(1).unwrap_or(&0))
                                    })
                                    .collect()
                            } else {
                                bytes.iter().map(|b| u32::from(*b)).collect()
                            };
                            for code in codes {
                                let width = font
                                    .widths
                                    .get(&code)
                                    .copied()
                                    .unwrap_or(font.default_width)
                                    / 1000.0;
                                let text =
                                    font.to_unicode.get(&code).cloned().unwrap_or_else(|| {
                                        char::from_u32(code).map(String::from).unwrap_or_default()
                                    });
                                let m = multiply(&tm, &ctm);
                                let advance = (width * fs
                                    + tc
                                    + if !font.two_byte && code == 32 {
                                        tw
                                    } else {
                                        0.0
                                    })
                                    * th;
                                let end = multiply(&[1.0, 0.0, 0.0, 1.0, advance, 0.0], &m);
                                let size = fs * m[3].abs().max(m[0].abs());
                                for c in text.chars() {
                                    glyphs.push((m[4], m[5], end[4], c, size));
                                }
                                tm = multiply(&[1.0, 0.0, 0.0, 1.0, advance, 0.0], &tm);
                            }
                        }
                        other => {
                            let adjust = -num(&other) / 1000.0 * fs * th;
                            tm = multiply(&[1.0, 0.0, 0.0, 1.0, adjust, 0.0], &tm);
                        }
                    }
                }
            }
            b"BI" => {
                // Skip an inline image up to EI.
                if let Some(end) = super::pdf::find(&content[p.pos..], b"EI") {
                    p.pos += end + 2;
                }
            }
            _ => {}
        }
        operands.clear();
    }
    // Lines: glyphs whose baselines are within a third of the font size, left to right.
    let mut lines: Vec<TextLine> = Vec::new();
    for (x, y, end, c, size) in glyphs {
        match lines
            .iter_mut()
            .find(|l| (l.y - y).abs() < size.max(1.0) / 3.0)
        {
            Some(line) => {
                line.chars.push(c);
                line.xs.push(x);
                line.ends.push(end);
            }
            None => lines.push(TextLine {
                y,
                chars: vec![c],
                xs: vec![x],
                ends: vec![end],
                size,
            }),
        }
    }
    for line in &mut lines {
        let mut order: Vec<usize> = (0..line.chars.len()).collect();
        order.sort_by(|a, b| line.xs[*a].total_cmp(&line.xs[*b]));
        line.chars = order.iter().map(|i| line.chars[*i]).collect();
        line.xs = order.iter().map(|i| line.xs[*i]).collect();
        line.ends = order.iter().map(|i| line.ends[*i]).collect();
    }
    lines.sort_by(|a, b| b.y.total_cmp(&a.y));
    Ok(lines)
}

/// A blank a draft leaves on a printed line for the clerk to write in: from the end of the
/// label to the next printed glyph (points, page 1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Blank {
    /// Where the blank starts.
    pub x: f64,
    /// The line's baseline.
    pub y: f64,
    /// How wide it is: up to the next printed glyph, or `open` when nothing follows.
    pub width: f64,
}

/// Room left on either side of what is written in a blank, so that it never touches a printed
/// glyph.
const BLANK_MARGIN: f64 = 1.5;

/// The blank after character `last` of `line`: up to the next non-space glyph, or `open`
/// points when the line ends there.
fn blank_after(line: &TextLine, last: usize, open: f64) -> Blank {
    let x = line.ends[last] + BLANK_MARGIN;
    let next = (last + 1..line.chars.len())
        .find(|&i| !line.chars[i].is_whitespace() && line.chars[i] != '\u{a0}')
        .map(|i| line.xs[i]);
    Blank {
        x,
        y: line.y,
        width: next.map_or(open, |n| (n - BLANK_MARGIN - x).max(0.0)),
    }
}

/// The number's blank: after "Số:" on page 1, up to the "/" of the symbol (or 60 points when
/// the line ends there), if the draft has the line.
pub fn number_blank(doc: &Document<'_>) -> Option<Blank> {
    let lines = text_lines(doc, 1).ok()?;
    for line in &lines {
        for label in ["Số:", "Số :", "So:"] {
            if let Some(i) = line.find(label) {
                return Some(blank_after(line, i + label.chars().count() - 1, 60.0));
            }
        }
    }
    None
}

/// The day's and the month's blanks on the "ngày … tháng … năm" line of page 1: between
/// "ngày" and "tháng", between "tháng" and "năm".
pub fn date_blanks(doc: &Document<'_>) -> Option<(Blank, Blank)> {
    let lines = text_lines(doc, 1).ok()?;
    for line in &lines {
        let lower: Vec<char> = line.text().to_lowercase().chars().collect();
        let find = |needle: &str| {
            let pat: Vec<char> = needle.chars().collect();
            lower.windows(pat.len()).position(|w| w == pat.as_slice())
        };
        let (Some(day), Some(month)) = (
            find("ngày").or_else(|| find("ngay")),
            find("tháng").or_else(|| find("thang")),
        ) else {
            continue;
        };
        if month <= day || (find("năm").is_none() && find("nam").is_none()) {
            continue;
        }
        return Some((
            blank_after(line, day + 3, 20.0),
            blank_after(line, month + 4, 20.0),
        ));
    }
    None
}

/// Where a leader's signature image goes: centred above the line that holds `anchor` (the
/// signer's name line), in the gap below the title line: (page, [x, y, w, h]).
pub fn above_anchor(
    doc: &Document<'_>,
    anchor: &str,
    width: f64,
    height: f64,
) -> Option<(usize, [f64; 4])> {
    let pages = doc.pages().ok()?.len();
    for page in (1..=pages).rev() {
        let lines = text_lines(doc, page).ok()?;
        for line in &lines {
            if let Some(i) = line.find(anchor) {
                let end = i + anchor.chars().count() - 1;
                let centre = (line.xs[i] + line.ends[end]) / 2.0;
                let y = line.y + line.size * 1.1;
                return Some((page, [centre - width / 2.0, y, width, height]));
            }
        }
    }
    None
}
