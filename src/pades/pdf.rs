//! A small, strict-enough PDF reader: objects, classic xref tables, xref streams, object
//! streams, PNG predictors, and the chain of incremental updates. It reads only what signing
//! and verifying need (trailer, catalog, pages, fields, signature dictionaries) from a byte
//! slice that is usually memory-mapped, so big files are never copied into memory.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io::Read as _;

/// Errors while reading a PDF.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Not a PDF, or damaged beyond repair.
    #[error("not a readable PDF: {0}")]
    Syntax(String),
    /// An object the document needs is missing.
    #[error("object {0} {1} R is missing")]
    Missing(u32, u16),
    /// An encrypted document that cannot be opened (a user password, another handler).
    #[error(transparent)]
    Encrypted(#[from] super::crypt::Error),
    /// A bound on untrusted input was reached (decoded size, count, nesting).
    #[error("the PDF exceeds a safety limit: {0}")]
    TooLarge(String),
}

fn syntax(message: impl Into<String>) -> Error {
    Error::Syntax(message.into())
}

pub use super::object::{Dict, Object, StreamData};

/// The byte lexer/parser.
pub struct Parser<'a> {
    data: &'a [u8],
    /// Current offset.
    pub pos: usize,
}

fn is_white(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'\x0c' | b'\0')
}

fn is_delim(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

impl<'a> Parser<'a> {
    /// A parser at `pos`.
    pub fn new(data: &'a [u8], pos: usize) -> Self {
        // An offset from the file (startxref, /Prev, an xref entry) may point past its end.
        Self {
            data,
            pos: pos.min(data.len()),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    /// Skips whitespace and comments.
    pub fn skip_ws(&mut self) {
        while let Some(b) = self.peek() {
            if is_white(b) {
                self.pos += 1;
            } else if b == b'%' {
                while let Some(c) = self.peek() {
                    if c == b'\r' || c == b'\n' {
                        break;
                    }
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    /// Reads a bare token (number, keyword).
    pub fn token(&mut self) -> &'a [u8] {
        // Some syntax steps over a closing delimiter that a truncated file lacks.
        self.pos = self.pos.min(self.data.len());
        self.skip_ws();
        let start = self.pos;
        while let Some(b) = self.peek() {
            if is_white(b) || is_delim(b) {
                break;
            }
            self.pos += 1;
        }
        &self.data[start..self.pos]
    }

    /// Whether the next token is `keyword` (consumed if so).
    pub fn keyword(&mut self, keyword: &[u8]) -> bool {
        let save = self.pos;
        if self.token() == keyword {
            true
        } else {
            self.pos = save;
            false
        }
    }

    fn unsigned(&mut self) -> Option<u64> {
        let save = self.pos;
        let t = self.token();
        match std::str::from_utf8(t).ok().and_then(|s| s.parse().ok()) {
            Some(v) if !t.is_empty() && t.iter().all(u8::is_ascii_digit) => Some(v),
            _ => {
                self.pos = save;
                None
            }
        }
    }

    /// Parses one object (references resolved later).
    ///
    /// # Errors
    /// Malformed syntax.
    pub fn object(&mut self, depth: usize) -> Result<Object, Error> {
        if depth > 64 {
            return Err(syntax("objects nested too deeply"));
        }
        self.pos = self.pos.min(self.data.len());
        self.skip_ws();
        let b = self
            .peek()
            .ok_or_else(|| syntax("unexpected end of file"))?;
        match b {
            b'/' => {
                self.pos += 1;
                let start = self.pos;
                while let Some(c) = self.peek() {
                    if is_white(c) || is_delim(c) {
                        break;
                    }
                    self.pos += 1;
                }
                Ok(Object::Name(decode_name(&self.data[start..self.pos])))
            }
            b'(' => self.literal_string().map(Object::String),
            b'<' if self.data.get(self.pos + 1) == Some(&b'<') => {
                self.pos += 2;
                let mut dict = Dict::default();
                loop {
                    self.skip_ws();
                    match self.peek() {
                        Some(b'>') if self.data.get(self.pos + 1) == Some(&b'>') => {
                            self.pos += 2;
                            break;
                        }
                        Some(b'/') => {
                            let key = match self.object(depth + 1)? {
                                Object::Name(n) => n,
                                _ => return Err(syntax("bad dictionary key")),
                            };
                            let value = self.object(depth + 1)?;
                            dict.0.push((key, value));
                        }
                        _ => return Err(syntax(format!("bad dictionary at {}", self.pos))),
                    }
                }
                Ok(Object::Dict(dict))
            }
            b'<' => {
                self.pos += 1;
                let start = self.pos;
                while self.peek().is_some_and(|c| c != b'>') {
                    self.pos += 1;
                }
                let hex: Vec<u8> = self.data[start..self.pos]
                    .iter()
                    .copied()
                    .filter(u8::is_ascii_hexdigit)
                    .collect();
                if self.peek().is_none() {
                    return Err(syntax("unterminated hex string"));
                }
                self.pos += 1;
                Ok(Object::String(decode_hex(&hex)))
            }
            b'[' => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_ws();
                    match self.peek() {
                        Some(b']') => {
                            self.pos += 1;
                            break;
                        }
                        None => return Err(syntax("unterminated array")),
                        _ => items.push(self.object(depth + 1)?),
                    }
                }
                Ok(Object::Array(items))
            }
            _ => {
                let save = self.pos;
                let token = self.token();
                match token {
                    b"true" => Ok(Object::Bool(true)),
                    b"false" => Ok(Object::Bool(false)),
                    b"null" => Ok(Object::Null),
                    _ if token.iter().all(u8::is_ascii_digit) && !token.is_empty() => {
                        // `n g R`?
                        let after = self.pos;
                        if let Some(gen) = self.unsigned() {
                            if self.keyword(b"R") {
                                let n = parse_num(token).ok_or_else(|| syntax("bad ref"))?;
                                return Ok(Object::Ref(n as u32, gen as u16));
                            }
                        }
                        self.pos = after;
                        Ok(Object::Int(
                            parse_num(token).ok_or_else(|| syntax("bad int"))?,
                        ))
                    }
                    _ => {
                        let text = std::str::from_utf8(token).map_err(|_| syntax("bad token"))?;
                        if let Ok(i) = text.parse::<i64>() {
                            Ok(Object::Int(i))
                        } else if let Ok(r) = text.parse::<f64>() {
                            Ok(Object::Real(r))
                        } else {
                            self.pos = save;
                            Err(syntax(format!("unexpected token {text:?} at {save}")))
                        }
                    }
                }
            }
        }
    }

    fn literal_string(&mut self) -> Result<Vec<u8>, Error> {
        self.pos += 1;
        let mut out = Vec::new();
        let mut depth = 1;
        while let Some(b) = self.peek() {
            self.pos += 1;
            match b {
                b'\\' => {
                    let Some(c) = self.peek() else { break };
                    self.pos += 1;
                    match c {
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'\r' => {
                            if self.peek() == Some(b'\n') {
                                self.pos += 1;
                            }
                        }
                        b'\n' => {}
                        b'0'..=b'7' => {
                            let mut v = u32::from(c - b'0');
                            for _ in 0..2 {
                                match self.peek() {
                                    Some(d @ b'0'..=b'7') => {
                                        v = v * 8 + u32::from(d - b'0');
                                        self.pos += 1;
                                    }
                                    _ => break,
                                }
                            }
                            out.push(v as u8);
                        }
                        other => out.push(other),
                    }
                }
                b'(' => {
                    depth += 1;
                    out.push(b);
                }
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(out);
                    }
                    out.push(b);
                }
                _ => out.push(b),
            }
        }
        Err(syntax("unterminated string"))
    }
}

fn parse_num(token: &[u8]) -> Option<i64> {
    std::str::from_utf8(token).ok()?.parse().ok()
}

fn decode_name(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'#' && i + 2 < raw.len() {
            if let Ok(v) = u8::from_str_radix(&String::from_utf8_lossy(&raw[i + 1..i + 3]), 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(raw[i]);
        i += 1;
    }
    out
}

fn decode_hex(hex: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hex.len() / 2 + 1);
    for pair in hex.chunks(2) {
        let hi = (pair[0] as char).to_digit(16).unwrap_or(0);
        let lo = pair
            .get(1)
            .and_then(|c| (*c as char).to_digit(16))
            .unwrap_or(0);
        out.push((hi * 16 + lo) as u8);
    }
    out
}

/// Where an object is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XrefEntry {
    /// At a byte offset, with a generation.
    Offset(usize, u16),
    /// Inside an object stream: (stream object number, index).
    Compressed(u32, u32),
}

/// One cross-reference section (one revision of the file).
#[derive(Clone, Debug)]
pub struct Section {
    /// Offset of the section (`startxref` value).
    pub offset: usize,
    /// Objects this section defines.
    pub entries: HashMap<u32, XrefEntry>,
    /// Its trailer (or xref stream dictionary).
    pub trailer: Dict,
    /// An xref stream rather than a table.
    pub is_stream: bool,
}

/// The objects of one decoded object stream: (number, object).
type ObjectStream = std::rc::Rc<Vec<(u32, Object)>>;

/// A parsed document (newest revision), over the file bytes.
pub struct Document<'a> {
    /// The whole file.
    pub data: &'a [u8],
    /// Merged entries, newest wins.
    pub xref: HashMap<u32, XrefEntry>,
    /// Newest trailer.
    pub trailer: Dict,
    /// Sections, newest first.
    pub sections: Vec<Section>,
    /// Highest object number + 1 (`/Size`).
    pub size: u32,
    /// `startxref` of the newest section.
    pub startxref: usize,
    objstm_cache: RefCell<HashMap<u32, ObjectStream>>,
    /// Bytes the cached object streams decoded to (the cache is emptied past the limit).
    objstm_bytes: Cell<usize>,
    /// Object look-ups in progress (a stream whose /Length or object stream needs another
    /// look-up): bounded, so that reference cycles end in an error, not a stack overflow.
    lookups: Cell<u32>,
    /// The standard security handler, opened, for an encrypted document.
    pub crypt: Option<super::crypt::Crypt>,
}

/// Nested object look-ups allowed (a /Length in an object stream is 3).
const MAX_LOOKUP_DEPTH: u32 = 16;

/// The largest decoded size of one stream of a file of `file_len` bytes: 16 MiB plus 32 times
/// the file, at most 512 MiB. Real content streams and object streams inflate 3–20 times; a
/// Flate bomb (1000 times) is refused.
pub fn max_decoded_len(file_len: usize) -> usize {
    (16usize << 20)
        .saturating_add(file_len.saturating_mul(32))
        .min(512 << 20)
}

impl<'a> Document<'a> {
    /// Reads the cross-reference chain of `data`.
    ///
    /// # Errors
    /// Not a PDF, or an encrypted one.
    pub fn load(data: &'a [u8]) -> Result<Self, Error> {
        Self::load_with_password(data, b"")
    }

    /// As [`Document::load`], opening an encrypted document with `password` (the user
    /// password; empty for documents that only carry an owner password).
    ///
    /// # Errors
    /// Not a PDF, or a password that does not open it.
    pub fn load_with_password(data: &'a [u8], password: &[u8]) -> Result<Self, Error> {
        let head = &data[..data.len().min(1024)];
        if !head.windows(5).any(|w| w == b"%PDF-") {
            return Err(syntax("no %PDF header"));
        }
        let startxref = find_startxref(data).ok_or_else(|| syntax("no startxref"))?;
        let mut sections = Vec::new();
        let mut next = Some(startxref);
        let mut seen = Vec::new();
        while let Some(offset) = next {
            if seen.contains(&offset) || sections.len() > 10_000 {
                break;
            }
            seen.push(offset);
            let section = match read_section(data, offset) {
                Ok(section) => section,
                Err(e) if sections.is_empty() => return Self::reconstruct(data, e, password),
                Err(_) => break,
            };
            next = section
                .trailer
                .get(b"Prev")
                .and_then(Object::as_int)
                .map(|p| p as usize);
            // Hybrid files: a table whose trailer points at an xref stream too.
            if let Some(stm) = section.trailer.get(b"XRefStm").and_then(Object::as_int) {
                if let Ok(extra) = read_section(data, stm as usize) {
                    let mut merged = section.clone();
                    for (k, v) in extra.entries {
                        merged.entries.entry(k).or_insert(v);
                    }
                    sections.push(merged);
                    continue;
                }
            }
            sections.push(section);
        }
        let mut xref = HashMap::new();
        for section in &sections {
            for (k, v) in &section.entries {
                xref.entry(*k).or_insert(*v);
            }
        }
        let trailer = sections
            .first()
            .map(|s| s.trailer.clone())
            .unwrap_or_default();
        let size = trailer
            .get(b"Size")
            .and_then(Object::as_int)
            .unwrap_or(0)
            .max(xref.keys().max().map(|m| i64::from(*m) + 1).unwrap_or(0))
            as u32;
        if trailer.get(b"Root").is_none() {
            return Self::reconstruct(data, syntax("no /Root in the trailer"), password);
        }
        let mut doc = Self {
            data,
            xref,
            trailer,
            sections,
            size,
            startxref,
            objstm_cache: RefCell::new(HashMap::new()),
            objstm_bytes: Cell::new(0),
            lookups: Cell::new(0),
            crypt: None,
        };
        doc.open_encryption(password)?;
        Ok(doc)
    }

    /// Opens the standard security handler when the trailer names one (strings and streams
    /// are then decrypted as they are read).
    ///
    /// # Errors
    /// A user password (other than `password`), another handler.
    pub fn open_encryption(&mut self, password: &[u8]) -> Result<(), Error> {
        let Some(encrypt) = self.trailer.get(b"Encrypt").cloned() else {
            return Ok(());
        };
        self.crypt = None;
        let dict = self
            .resolve(&encrypt)
            .as_dict()
            .cloned()
            .ok_or_else(|| syntax("/Encrypt is not a dictionary"))?;
        let id0 = self
            .trailer
            .get(b"ID")
            .and_then(Object::as_array)
            .and_then(|a| a.first())
            .and_then(Object::as_string)
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        let mut crypt = super::crypt::Crypt::open(&dict, &id0, password)?;
        crypt.encrypt_object = encrypt.as_ref().map(|r| r.0);
        self.crypt = Some(crypt);
        self.objstm_cache.borrow_mut().clear();
        Ok(())
    }

    /// Rebuilds the object table by scanning for `n g obj` when the xref is broken.
    fn reconstruct(data: &'a [u8], cause: Error, password: &[u8]) -> Result<Self, Error> {
        tracing::debug!(error = %cause, "rebuilding the cross-reference table by scanning");
        let mut xref = HashMap::new();
        let mut trailer = Dict::default();
        let mut i = 0;
        while let Some(found) = find(&data[i..], b" obj") {
            let at = i + found;
            // Walk back over "n g".
            let mut start = at;
            let mut spaces = 0;
            while start > 0
                && (data[start - 1].is_ascii_digit() || (data[start - 1] == b' ' && spaces < 1))
            {
                if data[start - 1] == b' ' {
                    spaces += 1;
                }
                start -= 1;
            }
            let mut p = Parser::new(data, start);
            if let (Some(n), Some(g)) = (p.unsigned(), p.unsigned()) {
                if p.keyword(b"obj") {
                    xref.insert(n as u32, XrefEntry::Offset(start, g as u16));
                }
            }
            i = at + 4;
        }
        let mut j = 0;
        while let Some(found) = find(&data[j..], b"trailer") {
            let mut p = Parser::new(data, j + found + 7);
            if let Ok(Object::Dict(d)) = p.object(0) {
                for (k, v) in d.0 {
                    trailer.set(&k, v);
                }
            }
            j += found + 7;
        }
        let doc = Self {
            data,
            size: xref.keys().max().map_or(1, |m| m.saturating_add(1)),
            xref,
            trailer,
            sections: Vec::new(),
            startxref: find_startxref(data).unwrap_or(0),
            objstm_cache: RefCell::new(HashMap::new()),
            objstm_bytes: Cell::new(0),
            lookups: Cell::new(0),
            crypt: None,
        };
        if doc.trailer.get(b"Root").is_none() {
            // Find the catalog.
            let catalog = doc.xref.keys().copied().find(|n| {
                doc.object(*n)
                    .ok()
                    .and_then(|o| {
                        o.as_dict()
                            .and_then(|d| d.type_name().map(|t| t == b"Catalog"))
                    })
                    .unwrap_or(false)
            });
            match catalog {
                Some(n) => {
                    let mut doc = doc;
                    doc.trailer.set(b"Root", Object::Ref(n, 0));
                    return Ok(doc);
                }
                None => return Err(cause),
            }
        }
        let mut doc = doc;
        doc.open_encryption(password)?;
        Ok(doc)
    }

    /// Object `n`, as the newest revision defines it.
    ///
    /// # Errors
    /// Missing or malformed object.
    pub fn object(&self, n: u32) -> Result<Object, Error> {
        match self.xref.get(&n) {
            Some(entry) => self.object_at(n, *entry),
            None => Err(Error::Missing(n, 0)),
        }
    }

    /// Object `n` as defined by a particular entry.
    ///
    /// # Errors
    /// Missing or malformed object.
    pub fn object_at(&self, n: u32, entry: XrefEntry) -> Result<Object, Error> {
        let depth = self.lookups.get();
        if depth >= MAX_LOOKUP_DEPTH {
            return Err(syntax(format!("reference cycle at object {n}")));
        }
        self.lookups.set(depth + 1);
        let found = self.object_at_unguarded(n, entry);
        self.lookups.set(depth);
        found
    }

    fn object_at_unguarded(&self, n: u32, entry: XrefEntry) -> Result<Object, Error> {
        match entry {
            XrefEntry::Offset(offset, _) => self.object_at_offset(offset).map(|(_, o)| o),
            XrefEntry::Compressed(stream, index) => {
                let objects = self.object_stream(stream)?;
                objects
                    .get(index as usize)
                    .filter(|(num, _)| *num == n)
                    .or_else(|| objects.iter().find(|(num, _)| *num == n))
                    .map(|(_, o)| o.clone())
                    .ok_or(Error::Missing(n, 0))
            }
        }
    }

    /// Parses `n g obj … endobj` at `offset`; returns the object number and the object.
    ///
    /// # Errors
    /// Malformed object.
    pub fn object_at_offset(&self, offset: usize) -> Result<(u32, Object), Error> {
        let mut p = Parser::new(self.data, offset);
        let n = p
            .unsigned()
            .ok_or_else(|| syntax(format!("no object at {offset}")))?;
        let generation = p.unsigned().ok_or_else(|| syntax("no generation"))?;
        if !p.keyword(b"obj") {
            return Err(syntax(format!("no obj keyword at {offset}")));
        }
        let mut object = p.object(0)?;
        let encrypted = self
            .crypt
            .as_ref()
            .filter(|c| c.encrypt_object != Some(n as u32));
        if let Some(crypt) = encrypted {
            let (n, generation) = (n as u32, generation as u16);
            map_strings(
                &mut object,
                &|bytes| crypt.decrypt_string(n, generation, bytes),
                0,
            );
        }
        let after = p.pos;
        if let Object::Dict(dict) = &object {
            if p.keyword(b"stream") {
                let mut start = p.pos;
                if self.data.get(start) == Some(&b'\r') {
                    start += 1;
                }
                if self.data.get(start) == Some(&b'\n') {
                    start += 1;
                }
                let length = match dict.get(b"Length") {
                    Some(Object::Int(l)) => usize::try_from(*l).ok(),
                    Some(Object::Ref(r, _)) => self
                        .object(*r)
                        .ok()
                        .and_then(|o| o.as_int())
                        .and_then(|l| usize::try_from(l).ok()),
                    _ => None,
                };
                let end = match length.and_then(|l| start.checked_add(l)) {
                    Some(end)
                        if end <= self.data.len()
                            && self.data[end..].starts_with_ws_endstream() =>
                    {
                        end
                    }
                    _ => find(&self.data[start..], b"endstream")
                        .map(|e| {
                            let mut end = start + e;
                            while end > start && matches!(self.data[end - 1], b'\r' | b'\n') {
                                end -= 1;
                            }
                            end
                        })
                        .ok_or_else(|| syntax("unterminated stream"))?,
                };
                let data = match encrypted {
                    // Decrypted once, here, where the object's number is known.
                    Some(crypt) => StreamData::Owned(crypt.decrypt_stream(
                        n as u32,
                        generation as u16,
                        dict,
                        &self.data[start..end],
                    )),
                    None => StreamData::InFile(start, end),
                };
                return Ok((n as u32, Object::Stream(dict.clone(), data)));
            }
        }
        let _ = after;
        Ok((n as u32, object))
    }

    fn object_stream(&self, stream: u32) -> Result<ObjectStream, Error> {
        if let Some(cached) = self.objstm_cache.borrow().get(&stream) {
            return Ok(cached.clone());
        }
        let obj = match self.xref.get(&stream) {
            Some(entry @ XrefEntry::Offset(..)) => self.object_at(stream, *entry)?,
            _ => return Err(Error::Missing(stream, 0)),
        };
        let (dict, data) = match &obj {
            Object::Stream(d, _) => (d.clone(), self.stream_data(&obj)?),
            _ => return Err(syntax("object stream is not a stream")),
        };
        // Each entry of the header takes at least 4 bytes ("1 0 "), so /N is bounded by them.
        let count = dict
            .get(b"N")
            .and_then(Object::as_int)
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| *n <= data.len() / 4 + 1)
            .ok_or_else(|| syntax("object stream /N out of range"))?;
        let first = dict
            .get(b"First")
            .and_then(Object::as_int)
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| *n <= data.len())
            .ok_or_else(|| syntax("object stream /First out of range"))?;
        let mut header = Parser::new(&data, 0);
        let mut index = Vec::with_capacity(count);
        for _ in 0..count {
            let (Some(num), Some(off)) = (header.unsigned(), header.unsigned()) else {
                break;
            };
            index.push((num as u32, off as usize));
        }
        let mut objects = Vec::with_capacity(index.len());
        for (num, off) in index {
            let mut p = Parser::new(&data, first.saturating_add(off));
            objects.push((num, p.object(0)?));
        }
        let rc = std::rc::Rc::new(objects);
        // The cache keeps parsed objects; bound what it holds to about one stream's limit.
        let held = self.objstm_bytes.get().saturating_add(data.len());
        if held > max_decoded_len(self.data.len()) {
            self.objstm_cache.borrow_mut().clear();
            self.objstm_bytes.set(data.len());
        } else {
            self.objstm_bytes.set(held);
        }
        self.objstm_cache.borrow_mut().insert(stream, rc.clone());
        Ok(rc)
    }

    /// Follows a reference (once); other objects are returned as they are.
    pub fn resolve(&self, object: &Object) -> Object {
        match object {
            Object::Ref(n, _) => self.object(*n).unwrap_or(Object::Null),
            other => other.clone(),
        }
    }

    /// A dictionary value, references followed.
    pub fn get(&self, dict: &Dict, key: &[u8]) -> Object {
        dict.get(key)
            .map(|o| self.resolve(o))
            .unwrap_or(Object::Null)
    }

    /// A stream's decoded bytes (Flate with PNG/TIFF-free predictors; other filters as is).
    ///
    /// # Errors
    /// A corrupt Flate stream.
    pub fn stream_data(&self, object: &Object) -> Result<Vec<u8>, Error> {
        let Object::Stream(dict, data) = object else {
            return Err(syntax("not a stream"));
        };
        let raw = match data {
            StreamData::InFile(start, end) => self.data[*start..*end].to_vec(),
            StreamData::Owned(bytes) => bytes.clone(),
        };
        let filters: Vec<Vec<u8>> = match self.get(dict, b"Filter") {
            Object::Name(n) => vec![n],
            Object::Array(items) => items
                .iter()
                .filter_map(|i| i.as_name().map(<[u8]>::to_vec))
                .collect(),
            _ => Vec::new(),
        };
        let mut bytes = raw;
        let limit = max_decoded_len(self.data.len());
        for filter in filters {
            if filter == b"FlateDecode" || filter == b"Fl" {
                let mut out = Vec::new();
                let decoder = flate2::read::ZlibDecoder::new(bytes.as_slice());
                let read = decoder.take(limit as u64 + 1).read_to_end(&mut out);
                if read.is_err() && out.is_empty() {
                    return Err(syntax("corrupt Flate stream"));
                }
                if out.len() > limit {
                    return Err(Error::TooLarge(format!(
                        "a stream inflates beyond {} MiB (Flate bomb?)",
                        limit >> 20
                    )));
                }
                bytes = out;
                let parms = self.get(dict, b"DecodeParms");
                if let Some(parms) = parms.as_dict() {
                    let predictor = parms
                        .get(b"Predictor")
                        .and_then(Object::as_int)
                        .unwrap_or(1);
                    if predictor >= 10 {
                        let param = |key: &[u8], default: i64, max: i64| -> Result<usize, Error> {
                            let value = parms.get(key).and_then(Object::as_int).unwrap_or(default);
                            if (1..=max).contains(&value) {
                                Ok(value as usize)
                            } else {
                                Err(syntax(format!(
                                    "/DecodeParms /{} {value} out of range",
                                    String::from_utf8_lossy(key)
                                )))
                            }
                        };
                        let columns = param(b"Columns", 1, 1 << 24)?;
                        let colors = param(b"Colors", 1, 32)?;
                        let bpc = param(b"BitsPerComponent", 8, 16)?;
                        bytes = png_unpredict(
                            &bytes,
                            (columns * colors * bpc).div_ceil(8),
                            (colors * bpc).div_ceil(8),
                        );
                    }
                }
            } else {
                return Ok(bytes);
            }
        }
        Ok(bytes)
    }

    /// The catalog.
    ///
    /// # Errors
    /// No catalog.
    pub fn catalog(&self) -> Result<(u32, Dict), Error> {
        let (n, _) = self
            .trailer
            .get(b"Root")
            .and_then(Object::as_ref)
            .ok_or_else(|| syntax("no /Root"))?;
        let dict = self
            .object(n)?
            .as_dict()
            .cloned()
            .ok_or_else(|| syntax("catalog is not a dictionary"))?;
        Ok((n, dict))
    }

    /// Page objects in order: (object number, dictionary).
    ///
    /// # Errors
    /// A broken page tree.
    pub fn pages(&self) -> Result<Vec<(u32, Dict)>, Error> {
        let (_, catalog) = self.catalog()?;
        let (root, _) = catalog
            .get(b"Pages")
            .and_then(Object::as_ref)
            .ok_or_else(|| syntax("no /Pages"))?;
        let mut out = Vec::new();
        let mut stack = vec![root];
        let mut seen = std::collections::HashSet::new();
        while let Some(n) = stack.pop() {
            // A node reached twice is a loop (or a shared node, which the spec forbids).
            if !seen.insert(n) {
                continue;
            }
            let dict = self
                .object(n)?
                .as_dict()
                .cloned()
                .ok_or_else(|| syntax("page node"))?;
            match dict.type_name() {
                Some(b"Pages") => {
                    if let Some(kids) = self.get(&dict, b"Kids").as_array() {
                        for kid in kids.iter().rev() {
                            if let Some((k, _)) = kid.as_ref() {
                                stack.push(k);
                            }
                        }
                    }
                }
                _ => out.push((n, dict)),
            }
        }
        Ok(out)
    }

    /// A page attribute, inherited from parents when absent (MediaBox, Resources, Rotate).
    pub fn inherited(&self, page: &Dict, key: &[u8]) -> Object {
        let mut current = page.clone();
        for _ in 0..64 {
            if let Some(v) = current.get(key) {
                return self.resolve(v);
            }
            match current.get(b"Parent").and_then(Object::as_ref) {
                Some((p, _)) => match self.object(p).ok().and_then(|o| o.as_dict().cloned()) {
                    Some(d) => current = d,
                    None => break,
                },
                None => break,
            }
        }
        Object::Null
    }
}

/// Applies `transform` to every string of an object, except a signature's `/Contents` (never
/// encrypted: it is excluded from the signed bytes). Decrypts what is read, encrypts what an
/// update adds.
pub fn map_strings(object: &mut Object, transform: &dyn Fn(&[u8]) -> Vec<u8>, depth: usize) {
    if depth > 64 {
        return;
    }
    match object {
        Object::String(bytes) => *bytes = transform(bytes),
        Object::Array(items) => {
            for item in items {
                map_strings(item, transform, depth + 1);
            }
        }
        Object::Dict(dict) | Object::Stream(dict, _) => {
            let is_signature = dict.get(b"ByteRange").is_some();
            for (key, value) in &mut dict.0 {
                if is_signature && key.as_slice() == b"Contents" {
                    continue;
                }
                map_strings(value, transform, depth + 1);
            }
        }
        _ => {}
    }
}

trait StartsWithEndstream {
    fn starts_with_ws_endstream(&self) -> bool;
}

impl StartsWithEndstream for [u8] {
    fn starts_with_ws_endstream(&self) -> bool {
        let trimmed = self
            .iter()
            .position(|b| !is_white(*b))
            .map(|i| &self[i..])
            .unwrap_or(&[]);
        trimmed.starts_with(b"endstream")
    }
}

fn png_unpredict(data: &[u8], row_len: usize, bpp: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut prev = vec![0u8; row_len];
    for chunk in data.chunks(row_len + 1) {
        if chunk.len() < row_len + 1 {
            break;
        }
        let kind = chunk[0];
        let mut row = chunk[1..].to_vec();
        for i in 0..row_len {
            let left = if i >= bpp { row[i - bpp] } else { 0 };
            let up = prev[i];
            let up_left = if i >= bpp { prev[i - bpp] } else { 0 };
            row[i] = match kind {
                1 => row[i].wrapping_add(left),
                2 => row[i].wrapping_add(up),
                3 => row[i].wrapping_add(((u16::from(left) + u16::from(up)) / 2) as u8),
                4 => {
                    let p = i16::from(left) + i16::from(up) - i16::from(up_left);
                    let (pa, pb, pc) = (
                        (p - i16::from(left)).abs(),
                        (p - i16::from(up)).abs(),
                        (p - i16::from(up_left)).abs(),
                    );
                    let pred = if pa <= pb && pa <= pc {
                        left
                    } else if pb <= pc {
                        up
                    } else {
                        up_left
                    };
                    row[i].wrapping_add(pred)
                }
                _ => row[i],
            };
        }
        out.extend_from_slice(&row);
        prev = row;
    }
    out
}

/// First occurrence of `needle`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Last occurrence of `needle`.
pub fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

fn find_startxref(data: &[u8]) -> Option<usize> {
    let tail_start = data.len().saturating_sub(2048);
    let at = rfind(&data[tail_start..], b"startxref")? + tail_start;
    let mut p = Parser::new(data, at + 9);
    p.unsigned().map(|v| v as usize)
}

fn read_section(data: &[u8], offset: usize) -> Result<Section, Error> {
    let mut p = Parser::new(data, offset);
    if p.keyword(b"xref") {
        let mut entries = HashMap::new();
        loop {
            let save = p.pos;
            let (Some(start), Some(count)) = (p.unsigned(), p.unsigned()) else {
                p.pos = save;
                break;
            };
            for i in 0..count {
                p.skip_ws();
                let line_start = p.pos;
                let line = data
                    .get(line_start..line_start + 18)
                    .ok_or_else(|| syntax("short xref"))?;
                let off = parse_num(&line[0..10]).ok_or_else(|| syntax("bad xref offset"))?;
                let gen = parse_num(&line[11..16]).unwrap_or(0);
                let kind = line[17];
                p.pos = line_start + 18;
                if kind == b'n' && off > 0 {
                    entries.insert(
                        (start + i) as u32,
                        XrefEntry::Offset(off as usize, gen as u16),
                    );
                }
            }
        }
        if !p.keyword(b"trailer") {
            return Err(syntax("no trailer"));
        }
        let trailer = match p.object(0)? {
            Object::Dict(d) => d,
            _ => return Err(syntax("trailer is not a dictionary")),
        };
        return Ok(Section {
            offset,
            entries,
            trailer,
            is_stream: false,
        });
    }
    // An xref stream: `n g obj << /Type /XRef … >> stream … endstream`.
    let doc = Document {
        data,
        xref: HashMap::new(),
        trailer: Dict::default(),
        sections: Vec::new(),
        size: 0,
        startxref: offset,
        objstm_cache: RefCell::new(HashMap::new()),
        objstm_bytes: Cell::new(0),
        lookups: Cell::new(0),
        crypt: None,
    };
    let (_, object) = doc.object_at_offset(offset)?;
    let dict = object
        .as_dict()
        .cloned()
        .ok_or_else(|| syntax("xref stream"))?;
    if dict.type_name() != Some(b"XRef") {
        return Err(syntax(format!("no xref at {offset}")));
    }
    let bytes = doc.stream_data(&object)?;
    let widths: Vec<usize> = dict
        .get(b"W")
        .and_then(Object::as_array)
        .ok_or_else(|| syntax("xref stream without /W"))?
        .iter()
        .map(|w| {
            w.as_int()
                .filter(|w| (0..=8).contains(w))
                .map(|w| w as usize)
        })
        .collect::<Option<_>>()
        .ok_or_else(|| syntax("xref stream /W out of range"))?;
    if widths.len() != 3 || widths.iter().sum::<usize>() == 0 {
        return Err(syntax("bad /W"));
    }
    let size = dict.get(b"Size").and_then(Object::as_int).unwrap_or(0);
    let index: Vec<i64> = match dict.get(b"Index").and_then(Object::as_array) {
        Some(items) => items.iter().filter_map(Object::as_int).collect(),
        None => vec![0, size],
    };
    let row = widths.iter().sum::<usize>();
    let field = |bytes: &[u8]| bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    let mut entries = HashMap::new();
    let mut at = 0;
    for pair in index.chunks(2) {
        let (start, count) = (pair[0], pair.get(1).copied().unwrap_or(0));
        // Never more entries than the stream has rows, nor numbers beyond u32.
        let (Ok(start), Ok(count)) = (u32::try_from(start), usize::try_from(count)) else {
            return Err(syntax("xref stream /Index out of range"));
        };
        let count = count.min(bytes.len() / row + 1);
        for i in 0..count {
            let Some(rec) = bytes.get(at..at + row) else {
                break;
            };
            at += row;
            let kind = if widths[0] == 0 {
                1
            } else {
                field(&rec[..widths[0]])
            };
            let a = field(&rec[widths[0]..widths[0] + widths[1]]);
            let b = field(&rec[widths[0] + widths[1]..]);
            let Some(n) = u32::try_from(i).ok().and_then(|i| start.checked_add(i)) else {
                break;
            };
            match kind {
                1 => {
                    entries.insert(n, XrefEntry::Offset(a as usize, b as u16));
                }
                2 => {
                    entries.insert(n, XrefEntry::Compressed(a as u32, b as u32));
                }
                _ => {}
            }
        }
    }
    Ok(Section {
        offset,
        entries,
        trailer: dict,
        is_stream: true,
    })
}

/// Serialises an object in PDF syntax.
/// A real as PDF writes it (no exponent). A number read from a file is written back exactly
/// (its shortest round-trip form, at most 15 significant digits): an object rewritten in an
/// update (a page gaining `/Annots`) must keep its other values, or strict verifiers see a
/// change (pyHanko: "/MediaBox differ"). A computed one is rounded to 4 decimals.
fn real_text(r: f64) -> String {
    if !r.is_finite() {
        return "0".into();
    }
    let exact = format!("{r}");
    let significant = exact
        .trim_start_matches('-')
        .trim_start_matches(['0', '.'])
        .chars()
        .filter(char::is_ascii_digit)
        .count();
    if significant <= 15 {
        return exact;
    }
    let text = format!("{r:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    match text {
        "" | "-" | "-0" => "0".into(),
        t => t.into(),
    }
}

pub fn write_object(out: &mut Vec<u8>, object: &Object) {
    match object {
        Object::Null => out.extend_from_slice(b"null"),
        Object::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Object::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Object::Real(r) => out.extend_from_slice(real_text(*r).as_bytes()),
        Object::Name(n) => {
            out.push(b'/');
            for b in n {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'+') {
                    out.push(*b);
                } else {
                    out.extend_from_slice(format!("#{b:02X}").as_bytes());
                }
            }
        }
        Object::String(s) => {
            out.push(b'<');
            out.extend_from_slice(hex::encode_upper(s).as_bytes());
            out.push(b'>');
        }
        Object::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                write_object(out, item);
            }
            out.push(b']');
        }
        Object::Dict(dict) | Object::Stream(dict, _) => {
            out.extend_from_slice(b"<<");
            for (k, v) in &dict.0 {
                write_object(out, &Object::Name(k.clone()));
                out.push(b' ');
                write_object(out, v);
            }
            out.extend_from_slice(b">>");
        }
        Object::Ref(n, g) => out.extend_from_slice(format!("{n} {g} R").as_bytes()),
    }
}

/// Text for a PDF text string: ASCII as is, anything else as UTF-16BE with a BOM.
pub fn text_string(text: &str) -> Object {
    if text.is_ascii() {
        Object::String(text.as_bytes().to_vec())
    } else {
        let mut bytes = vec![0xfe, 0xff];
        for unit in text.encode_utf16() {
            bytes.extend_from_slice(&unit.to_be_bytes());
        }
        Object::String(bytes)
    }
}

/// Decodes a PDF text string (UTF-16BE with BOM, UTF-8 with BOM, else PDFDocEncoding as Latin-1).
pub fn decode_text(bytes: &[u8]) -> String {
    if bytes.starts_with(&[0xfe, 0xff]) {
        let units: Vec<u16> = bytes[2..]
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    } else if bytes.starts_with(&[0xef, 0xbb, 0xbf]) {
        String::from_utf8_lossy(&bytes[3..]).into_owned()
    } else {
        bytes.iter().map(|b| *b as char).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_objects_refs_and_strings() {
        let data = b"<< /Type /Catalog /Kids [1 0 R 2 0 R] /N 12 /R -3.5 /S (a\\(b\\)c\\101) /H <48 49> /X#20Y true >>";
        let mut p = Parser::new(data, 0);
        let Object::Dict(d) = p.object(0).expect("dict") else {
            panic!("not a dict")
        };
        assert_eq!(d.type_name(), Some(&b"Catalog"[..]));
        assert_eq!(
            d.get(b"Kids"),
            Some(&Object::Array(vec![Object::Ref(1, 0), Object::Ref(2, 0)]))
        );
        assert_eq!(d.get(b"N"), Some(&Object::Int(12)));
        assert_eq!(d.get(b"R"), Some(&Object::Real(-3.5)));
        // Reals read from a file are written back as they were; computed ones are rounded.
        for (value, text) in [
            (594.95996, "594.95996"),
            (-3.5, "-3.5"),
            (841.0, "841"),
            (0.1 + 0.2, "0.3"),
            (1e-7, "0.0000001"),
            (-0.00001, "-0.00001"),
        ] {
            assert_eq!(real_text(value), text);
        }
        assert_eq!(d.get(b"S"), Some(&Object::String(b"a(b)cA".to_vec())));
        assert_eq!(d.get(b"H"), Some(&Object::String(b"HI".to_vec())));
        assert_eq!(d.get(b"X Y"), Some(&Object::Bool(true)));
    }

    #[test]
    fn png_up_predictor_is_undone() {
        // Two rows of 3 bytes, "Up" filter on the second.
        let encoded = [2, 1, 2, 3, 2, 1, 1, 1];
        assert_eq!(png_unpredict(&encoded, 3, 1), vec![1, 2, 3, 2, 3, 4]);
    }

    #[test]
    fn text_strings_round_trip() {
        let Object::String(bytes) = text_string("Nguyễn Văn An") else {
            panic!()
        };
        assert_eq!(decode_text(&bytes), "Nguyễn Văn An");
        assert_eq!(decode_text(b"abc"), "abc");
    }
}
