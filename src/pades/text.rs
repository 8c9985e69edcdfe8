//! Text in stamps: a TrueType font (Times-New-Roman-compatible Liberation Serif by default, or
//! an agency's own file) embedded as a subset CID font (`Identity-H`) with a `ToUnicode` map,
//! so that Vietnamese renders everywhere and `pdftotext` gives the exact text back.
//! Text is normalised to NFC-like precomposed letters by the caller; one glyph per char.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::image::deflate;
use super::pdf::{Dict, Object};
use super::update::Update;
use super::Error;

/// A loaded TrueType font.
pub struct Font {
    data: Vec<u8>,
    /// PostScript-ish name used for `/BaseFont`.
    pub name: String,
    units_per_em: f64,
    ascender: f64,
    descender: f64,
    cap_height: f64,
    bbox: [f64; 4],
    italic_angle: f64,
}

/// The folders where the Liberation fonts are installed (Debian's fonts-liberation2 and
/// others).
const LIBERATION_DIRS: [&str; 4] = [
    "/usr/share/fonts/truetype/liberation2",
    "/usr/share/fonts/truetype/liberation",
    "/usr/share/fonts/liberation-serif",
    "/usr/share/fonts/liberation",
];

/// A font file of the system by name (`LiberationSans-Regular.ttf`), if installed.
pub fn system_font(file: &str) -> Option<PathBuf> {
    LIBERATION_DIRS
        .iter()
        .map(|dir| Path::new(dir).join(file))
        .find(|path| path.is_file())
}

/// Where the default stamp fonts are looked for, regular then italic.
fn default_font_paths(italic: bool) -> Vec<PathBuf> {
    let file = if italic {
        "LiberationSerif-Italic.ttf"
    } else {
        "LiberationSerif-Regular.ttf"
    };
    let windows = if italic { "timesi.ttf" } else { "times.ttf" };
    let mac = if italic {
        "Times New Roman Italic.ttf"
    } else {
        "Times New Roman.ttf"
    };
    vec![
        PathBuf::from("/usr/share/fonts/truetype/liberation2").join(file),
        PathBuf::from("/usr/share/fonts/truetype/liberation").join(file),
        PathBuf::from("/usr/share/fonts/liberation-serif").join(file),
        PathBuf::from("C:\\Windows\\Fonts").join(windows),
        PathBuf::from("/Library/Fonts").join(mac),
        PathBuf::from("/System/Library/Fonts/Supplemental").join(mac),
    ]
}

impl Font {
    /// Loads a TrueType/OpenType file.
    ///
    /// # Errors
    /// [`Error::Font`] when the file cannot be read or parsed.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let data =
            std::fs::read(path).map_err(|e| Error::Font(format!("{}: {e}", path.display())))?;
        let face = ttf_parser::Face::parse(&data, 0)
            .map_err(|e| Error::Font(format!("{}: {e}", path.display())))?;
        let name = path
            .file_stem()
            .map(|s| {
                s.to_string_lossy()
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .collect()
            })
            .unwrap_or_else(|| "Font".into());
        let b = face.global_bounding_box();
        let font = Self {
            name,
            units_per_em: f64::from(face.units_per_em()),
            ascender: f64::from(face.ascender()),
            descender: f64::from(face.descender()),
            cap_height: f64::from(face.capital_height().unwrap_or(face.ascender())),
            bbox: [
                f64::from(b.x_min),
                f64::from(b.y_min),
                f64::from(b.x_max),
                f64::from(b.y_max),
            ],
            italic_angle: f64::from(face.italic_angle()),
            data: Vec::new(),
        };
        Ok(Self { data, ..font })
    }

    /// The stamp font: `path` when given (an agency's own TTF), else Liberation Serif
    /// (metric-compatible with Times New Roman) or Times New Roman from the system.
    ///
    /// # Errors
    /// [`Error::Font`] naming the places looked at.
    pub fn stamp(path: Option<&Path>, italic: bool) -> Result<Self, Error> {
        if let Some(path) = path {
            return Self::load(path);
        }
        let candidates = default_font_paths(italic);
        for candidate in &candidates {
            if candidate.exists() {
                return Self::load(candidate);
            }
        }
        Err(Error::Font(format!(
            "no Times-compatible font found (install fonts-liberation2, or set stamp_font): looked at {}",
            candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        )))
    }

    fn face(&self) -> Result<ttf_parser::Face<'_>, Error> {
        ttf_parser::Face::parse(&self.data, 0).map_err(|e| Error::Font(e.to_string()))
    }

    /// Width of `text` at `size` points.
    ///
    /// # Errors
    /// A character the font has no glyph for.
    pub fn width(&self, text: &str, size: f64) -> Result<f64, Error> {
        let face = self.face()?;
        let mut units = 0.0;
        for c in text.chars() {
            let gid = face
                .glyph_index(c)
                .ok_or_else(|| Error::Font(format!("the font has no glyph for {c:?}")))?;
            units += f64::from(face.glyph_hor_advance(gid).unwrap_or(0));
        }
        Ok(units * size / self.units_per_em)
    }
}

/// Which CID each character was given in an embedded subset.
pub type CidMap = BTreeMap<char, u16>;

/// Fonts used by one appearance, each embedded once as a subset with the glyphs its texts need.
#[derive(Default)]
pub struct FontSet<'f> {
    fonts: Vec<(&'f Font, Vec<char>)>,
}

impl<'f> FontSet<'f> {
    /// Registers `text` for `font`; returns the resource name (`F1`, `F2`…).
    pub fn use_text(&mut self, font: &'f Font, text: &str) -> String {
        let index = match self.fonts.iter().position(|(f, _)| std::ptr::eq(*f, font)) {
            Some(i) => i,
            None => {
                self.fonts.push((font, Vec::new()));
                self.fonts.len() - 1
            }
        };
        for c in text.chars() {
            if !self.fonts[index].1.contains(&c) {
                self.fonts[index].1.push(c);
            }
        }
        format!("F{}", index + 1)
    }

    /// Writes every font into `update`; returns the `/Font` resource dictionary and, per font
    /// name, the char → CID map used to encode the text.
    ///
    /// # Errors
    /// A glyph missing or a font the subsetter refuses.
    pub fn write(&self, update: &mut Update) -> Result<(Dict, BTreeMap<String, CidMap>), Error> {
        let mut resources = Dict::default();
        let mut maps = BTreeMap::new();
        for (i, (font, chars)) in self.fonts.iter().enumerate() {
            let resource = format!("F{}", i + 1);
            let (n, map) = embed_font(update, font, chars)?;
            resources.set(resource.as_bytes(), Object::Ref(n, 0));
            maps.insert(resource, map);
        }
        Ok((resources, maps))
    }
}

/// The text operand for `Tj`: the CIDs as a hex string.
pub fn encode(map: &BTreeMap<char, u16>, text: &str) -> String {
    let mut out = String::from("<");
    for c in text.chars() {
        out.push_str(&format!("{:04X}", map.get(&c).copied().unwrap_or(0)));
    }
    out.push('>');
    out
}

fn embed_font(
    update: &mut Update,
    font: &Font,
    chars: &[char],
) -> Result<(u32, BTreeMap<char, u16>), Error> {
    let face = font.face()?;
    let mut remapper = subsetter::GlyphRemapper::new();
    let mut map = BTreeMap::new();
    let mut widths = Vec::new();
    for c in chars {
        let gid = face
            .glyph_index(*c)
            .ok_or_else(|| Error::Font(format!("the font has no glyph for {c:?}")))?;
        let cid = remapper.remap(gid.0);
        map.insert(*c, cid);
        let advance =
            f64::from(face.glyph_hor_advance(gid).unwrap_or(0)) * 1000.0 / font.units_per_em;
        widths.push((cid, advance));
    }
    let subset = subsetter::subset(&font.data, 0, &remapper)
        .map_err(|e| Error::Font(format!("subsetting: {e:?}")))?;
    // A six-letter subset tag derived from the glyph set, as PDF asks for subset fonts.
    let tag: String = crate::certificate::id_of(&subset)
        .bytes()
        .take(6)
        .map(|b| char::from(b'A' + b % 26))
        .collect();
    let base_font = format!("{tag}+{}", font.name);
    let scale = 1000.0 / font.units_per_em;

    let mut file_dict = Dict::default();
    file_dict.set(b"Length1", Object::Int(subset.len() as i64));
    file_dict.set(b"Filter", Object::Name(b"FlateDecode".to_vec()));
    let file_n = update.add_stream(file_dict, &deflate(&subset));

    let mut descriptor = Dict::default();
    descriptor.set(b"Type", Object::Name(b"FontDescriptor".to_vec()));
    descriptor.set(b"FontName", Object::Name(base_font.as_bytes().to_vec()));
    // Serif (2) + nonsymbolic (32) + italic (64) when slanted.
    let flags = 2 + 32 + if font.italic_angle.abs() > 0.1 { 64 } else { 0 };
    descriptor.set(b"Flags", Object::Int(flags));
    descriptor.set(
        b"FontBBox",
        Object::Array(font.bbox.iter().map(|v| Object::Real(v * scale)).collect()),
    );
    descriptor.set(b"ItalicAngle", Object::Real(font.italic_angle));
    descriptor.set(b"Ascent", Object::Real(font.ascender * scale));
    descriptor.set(b"Descent", Object::Real(font.descender * scale));
    descriptor.set(b"CapHeight", Object::Real(font.cap_height * scale));
    descriptor.set(b"StemV", Object::Int(80));
    descriptor.set(b"FontFile2", Object::Ref(file_n, 0));
    let descriptor_n = update.add(&Object::Dict(descriptor));

    let mut w = Vec::new();
    let mut sorted = widths.clone();
    sorted.sort_by_key(|(cid, _)| *cid);
    for (cid, width) in sorted {
        w.push(Object::Int(i64::from(cid)));
        w.push(Object::Array(vec![Object::Real(width)]));
    }
    let mut cid_font = Dict::default();
    cid_font.set(b"Type", Object::Name(b"Font".to_vec()));
    cid_font.set(b"Subtype", Object::Name(b"CIDFontType2".to_vec()));
    cid_font.set(b"BaseFont", Object::Name(base_font.as_bytes().to_vec()));
    let mut info = Dict::default();
    info.set(b"Registry", Object::String(b"Adobe".to_vec()));
    info.set(b"Ordering", Object::String(b"Identity".to_vec()));
    info.set(b"Supplement", Object::Int(0));
    cid_font.set(b"CIDSystemInfo", Object::Dict(info));
    cid_font.set(b"FontDescriptor", Object::Ref(descriptor_n, 0));
    cid_font.set(b"W", Object::Array(w));
    cid_font.set(b"CIDToGIDMap", Object::Name(b"Identity".to_vec()));
    let cid_font_n = update.add(&Object::Dict(cid_font));

    let mut cmap = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    let entries: Vec<(&char, &u16)> = map.iter().collect();
    for chunk in entries.chunks(100) {
        cmap.push_str(&format!("{} beginbfchar\n", chunk.len()));
        for (c, cid) in chunk {
            let mut utf16 = [0u16; 2];
            let units: String = c
                .encode_utf16(&mut utf16)
                .iter()
                .map(|u| format!("{u:04X}"))
                .collect();
            cmap.push_str(&format!("<{cid:04X}> <{units}>\n"));
        }
        cmap.push_str("endbfchar\n");
    }
    cmap.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    let mut cmap_dict = Dict::default();
    cmap_dict.set(b"Filter", Object::Name(b"FlateDecode".to_vec()));
    let cmap_n = update.add_stream(cmap_dict, &deflate(cmap.as_bytes()));

    let mut type0 = Dict::default();
    type0.set(b"Type", Object::Name(b"Font".to_vec()));
    type0.set(b"Subtype", Object::Name(b"Type0".to_vec()));
    type0.set(b"BaseFont", Object::Name(base_font.as_bytes().to_vec()));
    type0.set(b"Encoding", Object::Name(b"Identity-H".to_vec()));
    type0.set(
        b"DescendantFonts",
        Object::Array(vec![Object::Ref(cid_font_n, 0)]),
    );
    type0.set(b"ToUnicode", Object::Ref(cmap_n, 0));
    Ok((update.add(&Object::Dict(type0)), map))
}
