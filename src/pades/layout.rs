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

/// One glyph drawn on a page: baseline start and end x, baseline y, its character and size.
struct Glyph {
    x: f64,
    y: f64,
    end: f64,
    c: char,
    size: f64,
}

/// What a page's content draws that matters for placing things: glyphs, and the boxes of its
/// images (`[x0, y0, x1, y1]`).
#[derive(Default)]
struct Marks {
    glyphs: Vec<Glyph>,
    images: Vec<[f64; 4]>,
}

/// How deep form XObjects are followed (a form drawing a form…), and how many are drawn at
/// most: a crafted page cannot make the interpreter loop or blow up.
const MAX_FORM_DEPTH: usize = 8;
const MAX_FORMS: usize = 256;

/// The box of the unit square under `m`: where an image is drawn.
fn unit_box(m: &Matrix) -> [f64; 4] {
    let corners = [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)]
        .map(|(u, v)| (u * m[0] + v * m[2] + m[4], u * m[1] + v * m[3] + m[5]));
    let xs = corners.map(|c| c.0);
    let ys = corners.map(|c| c.1);
    [
        xs.iter().copied().fold(f64::INFINITY, f64::min),
        ys.iter().copied().fold(f64::INFINITY, f64::min),
        xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        ys.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    ]
}

/// Interprets page `page` (from 1): its content streams and the forms they draw.
fn page_marks(doc: &Document<'_>, page: usize) -> Result<Marks, Error> {
    let pages = doc.pages()?;
    let (_, dict) = pages
        .get(page.wrapping_sub(1))
        .ok_or_else(|| Error::PlacementNotFound(format!("no page {page}")))?;
    let resources = doc.inherited(dict, b"Resources");
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
    let mut marks = Marks::default();
    let mut forms = Forms::default();
    run_content(doc, &content, &resources, IDENTITY, &mut forms, &mut marks);
    Ok(marks)
}

/// The forms being drawn (a form that draws itself, directly or not, is cut there) and how
/// many were drawn in all.
#[derive(Default)]
struct Forms {
    open: Vec<u32>,
    drawn: usize,
}

/// Runs one content stream with its resources under `base` (the CTM it starts with),
/// collecting glyphs and image boxes into `marks`.
fn run_content(
    doc: &Document<'_>,
    content: &[u8],
    resources: &Object,
    base: Matrix,
    forms: &mut Forms,
    marks: &mut Marks,
) {
    let resources = doc.resolve(resources);
    let fonts = resources
        .as_dict()
        .map(|r| doc.get(r, b"Font"))
        .unwrap_or(Object::Null);
    let xobjects = resources
        .as_dict()
        .map(|r| doc.get(r, b"XObject"))
        .unwrap_or(Object::Null);
    let mut cache: HashMap<Vec<u8>, FontInfo> = HashMap::new();
    let mut operands: Vec<Object> = Vec::new();
    let mut ctm = base;
    let mut stack: Vec<Matrix> = Vec::new();
    let (mut tm, mut tlm) = (IDENTITY, IDENTITY);
    let (mut tc, mut tw, mut th, mut tl, mut fs) = (0.0, 0.0, 1.0, 0.0, 12.0);
    let mut font_name: Vec<u8> = Vec::new();
    let mut p = Parser::new(content, 0);
    let num = |o: &Object| o.as_f64().unwrap_or(0.0);
    while let Some(item) = next_item(&mut p, content) {
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
            b"Q" => ctm = stack.pop().unwrap_or(base),
            b"cm" if n >= 6 => {
                ctm = multiply(&[arg(6), arg(5), arg(4), arg(3), arg(2), arg(1)], &ctm)
            }
            b"Do" if n >= 1 => {
                let name = operands[n - 1]
                    .as_name()
                    .map(<[u8]>::to_vec)
                    .unwrap_or_default();
                let raw = xobjects.as_dict().and_then(|x| x.get(&name)).cloned();
                let form_n = raw.as_ref().and_then(Object::as_ref).map(|r| r.0);
                let xobject = raw.map(|o| doc.resolve(&o)).unwrap_or(Object::Null);
                let Some(dict) = xobject.as_dict() else {
                    operands.clear();
                    continue;
                };
                let cycle = form_n.is_some_and(|n| forms.open.contains(&n));
                match dict.get(b"Subtype").and_then(Object::as_name) {
                    Some(b"Image") => marks.images.push(unit_box(&ctm)),
                    Some(b"Form")
                        if !cycle
                            && forms.open.len() < MAX_FORM_DEPTH
                            && forms.drawn < MAX_FORMS =>
                    {
                        forms.drawn += 1;
                        let matrix: Vec<f64> = doc
                            .get(dict, b"Matrix")
                            .as_array()
                            .map(|a| a.iter().filter_map(Object::as_f64).collect())
                            .unwrap_or_default();
                        let matrix: Matrix = matrix.try_into().unwrap_or(IDENTITY);
                        let form_resources = match dict.get(b"Resources") {
                            Some(r) => r.clone(),
                            None => resources.clone(),
                        };
                        let data = doc.stream_data(&xobject).unwrap_or_default();
                        forms.open.push(form_n.unwrap_or(0));
                        run_content(
                            doc,
                            &data,
                            &form_resources,
                            multiply(&matrix, &ctm),
                            forms,
                            marks,
                        );
                        forms.open.pop();
                    }
                    _ => {}
                }
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
                                    marks.glyphs.push(Glyph {
                                        x: m[4],
                                        y: m[5],
                                        end: end[4],
                                        c,
                                        size,
                                    });
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
                // An inline image: its box, then skip its data up to EI.
                marks.images.push(unit_box(&ctm));
                if let Some(end) = super::pdf::find(&content[p.pos..], b"EI") {
                    p.pos += end + 2;
                }
            }
            _ => {}
        }
        operands.clear();
    }
}

/// The text lines of page `page` (from 1), top to bottom.
///
/// # Errors
/// A page that does not exist or a broken document.
pub fn text_lines(doc: &Document<'_>, page: usize) -> Result<Vec<TextLine>, Error> {
    let marks = page_marks(doc, page)?;
    Ok(lines_of(marks.glyphs))
}

/// Glyphs grouped into lines, top to bottom.
fn lines_of(glyphs: Vec<Glyph>) -> Vec<TextLine> {
    // Lines: glyphs whose baselines are within a third of the font size, left to right.
    let mut lines: Vec<TextLine> = Vec::new();
    for Glyph { x, y, end, c, size } in glyphs {
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
    lines
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

/// What a new block on page `page` must not cover (`[x0, y0, x1, y1]` each): every printed
/// glyph but spaces (from a little below the baseline to the top of the capitals), every image
/// the content draws (a scanned page is one), and every visible annotation (signatures'
/// stamps, other blocks).
///
/// # Errors
/// A page that does not exist or a broken document.
pub fn occupied(doc: &Document<'_>, page: usize) -> Result<Vec<[f64; 4]>, Error> {
    let marks = page_marks(doc, page)?;
    let mut boxes: Vec<[f64; 4]> = marks
        .glyphs
        .iter()
        .filter(|g| !g.c.is_whitespace() && g.c != '\u{a0}')
        .map(|g| {
            [
                g.x.min(g.end),
                g.y - 0.25 * g.size,
                g.x.max(g.end),
                g.y + 0.85 * g.size,
            ]
        })
        .collect();
    boxes.extend(marks.images);
    let pages = doc.pages()?;
    if let Some((_, dict)) = pages.get(page.wrapping_sub(1)) {
        for annot in doc
            .get(dict, b"Annots")
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let Some(annot) = doc.resolve(&annot).as_dict().cloned() else {
                continue;
            };
            let hidden = doc.get(&annot, b"F").as_int().unwrap_or(0) & 2 != 0;
            let rect: Vec<f64> = doc
                .get(&annot, b"Rect")
                .as_array()
                .map(|a| a.iter().filter_map(Object::as_f64).collect())
                .unwrap_or_default();
            if let (&[x0, y0, x1, y1], false) = (rect.as_slice(), hidden) {
                if (x1 - x0).abs() > 0.5 && (y1 - y0).abs() > 0.5 {
                    boxes.push([x0.min(x1), y0.min(y1), x0.max(x1), y0.max(y1)]);
                }
            }
        }
    }
    Ok(boxes)
}

/// Where Phụ lục IV puts the "ĐẾN" block on page 1, in its order: below the summary line of
/// a công văn ("V/v …") or else the number and symbol ("Số: …"); then below the date line.
/// Each is the y the block's top may not pass and the x of that line's column centre.
pub fn incoming_anchors(doc: &Document<'_>) -> Vec<(f64, f64)> {
    let Ok(lines) = text_lines(doc, 1) else {
        return Vec::new();
    };
    let around = |line: &TextLine, start: usize| {
        // The run of text from `start` until a gap wider than two em (the other column).
        let mut end = start;
        while end + 1 < line.chars.len()
            && line.xs[end + 1] - line.ends[end] < 2.0 * line.size.max(1.0)
        {
            end += 1;
        }
        (
            line.y - 0.3 * line.size,
            (line.xs[start] + line.ends[end]) / 2.0,
        )
    };
    let find = |labels: &[&str]| {
        lines.iter().find_map(|line| {
            let lower: Vec<char> = line.text().to_lowercase().chars().collect();
            labels.iter().find_map(|label| {
                let pat: Vec<char> = label.chars().collect();
                lower
                    .windows(pat.len())
                    .position(|w| w == pat.as_slice())
                    .map(|i| around(line, i))
            })
        })
    };
    find(&["v/v "])
        .or_else(|| find(&["số:", "số :", "so:"]))
        .into_iter()
        .chain(find(&["ngày", "ngay"]))
        .collect()
}

/// The free place for a `width` × `height` block on a page (`page_box` `[x0, y0, x1, y1]`)
/// among `boxes` (what it must not cover, kept `clearance` away): the highest place whose top
/// is at most `top`, and at that height the one whose centre is nearest `centre_x` (with
/// `in_column`, only places that span `centre_x`: the column of the line above), at least
/// `margin` inside the page. `[x, y, width, height]`, or none when nothing fits.
pub fn free_place(
    boxes: &[[f64; 4]],
    page_box: [f64; 4],
    (top, centre_x, in_column): (f64, f64, bool),
    size: (f64, f64),
    margin: f64,
    clearance: f64,
) -> Option<[f64; 4]> {
    let (width, height) = size;
    let (left, right) = (page_box[0] + margin, page_box[2] - margin);
    let bottom = page_box[1] + margin;
    let mut y_top = top.min(page_box[3] - margin);
    const STEP: f64 = 2.0;
    while y_top - height >= bottom {
        let y0 = y_top - height;
        // What the band [y0, y_top] meets, as x intervals, left to right.
        let mut blocked: Vec<(f64, f64)> = boxes
            .iter()
            .filter(|b| b[1] < y_top + clearance && b[3] > y0 - clearance)
            .map(|b| (b[0] - clearance, b[2] + clearance))
            .collect();
        blocked.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut best: Option<f64> = None;
        let mut free_from = left;
        let consider = |from: f64, to: f64, best: &mut Option<f64>| {
            if to - from >= width {
                let x = (centre_x - width / 2.0).clamp(from, to - width);
                if in_column && !(x <= centre_x && centre_x <= x + width) {
                    return;
                }
                let distance = |x: f64| (x + width / 2.0 - centre_x).abs();
                if best.is_none_or(|b| distance(x) < distance(b)) {
                    *best = Some(x);
                }
            }
        };
        for (b0, b1) in blocked {
            consider(free_from, b0.min(right), &mut best);
            free_from = free_from.max(b1);
        }
        consider(free_from, right, &mut best);
        if let Some(x) = best {
            return Some([x, y0, width, height]);
        }
        y_top -= STEP;
    }
    None
}

#[cfg(test)]
mod free_place_tests {
    use super::free_place;

    const A4: [f64; 4] = [0.0, 0.0, 595.0, 842.0];

    #[test]
    fn the_block_goes_highest_in_the_column_and_never_over_a_box() {
        // A left-column line at y 700..712 (the summary), a centred line across both columns
        // at 600..612, the body from 400 to 560 across the page.
        let boxes = [
            [70.0, 700.0, 200.0, 712.0],
            [250.0, 600.0, 450.0, 612.0],
            [60.0, 400.0, 540.0, 560.0],
        ];
        let place = free_place(&boxes, A4, (698.0, 135.0, true), (142.0, 99.0), 28.0, 2.0)
            .expect("room between the summary and the body, left of the centred line");
        let [x, y, w, h] = place;
        assert!(x <= 135.0 && 135.0 <= x + w, "{place:?} not in the column");
        assert!(y + h <= 698.0 && y >= 562.0, "{place:?}");
        for b in boxes {
            let apart = x + w < b[0] || x > b[2] || y + h < b[1] || y > b[3];
            assert!(apart, "{place:?} covers {b:?}");
        }
        // Only a column that is full from top to bottom has no place.
        let wall = [[100.0, 0.0, 200.0, 842.0]];
        assert_eq!(
            free_place(&wall, A4, (800.0, 150.0, true), (142.0, 99.0), 28.0, 2.0),
            None
        );
        assert!(free_place(&wall, A4, (800.0, 150.0, false), (142.0, 99.0), 28.0, 2.0).is_some());
        // A page that is one image (a scan) has none at all.
        let scan = [[0.0, 0.0, 595.0, 842.0]];
        assert_eq!(
            free_place(&scan, A4, (800.0, 300.0, false), (142.0, 99.0), 28.0, 2.0),
            None
        );
    }
}
