//! Writing an incremental update: new and changed objects appended after the original bytes
//! (never rewriting one of them), then a cross-reference section of the same kind as the
//! previous one (table after a table, stream after a stream) with `/Prev`.

use std::collections::BTreeMap;

use super::pdf::{write_object, Dict, Document, Object};

/// The objects of one update, by number.
#[derive(Default)]
pub struct Update {
    objects: BTreeMap<u32, (u16, Vec<u8>)>,
    next: u32,
    /// The document's encryption: what the update adds is encrypted the same way.
    crypt: Option<super::crypt::Crypt>,
}

impl Update {
    /// An update for `doc`: new objects are numbered from its `/Size`.
    pub fn new(doc: &Document<'_>) -> Self {
        Self {
            objects: BTreeMap::new(),
            next: doc.size.max(1),
            crypt: doc.crypt.clone(),
        }
    }

    /// Reserves a new object number.
    pub fn reserve(&mut self) -> u32 {
        let n = self.next;
        self.next += 1;
        n
    }

    /// Sets object `n` (new or a new version of an existing one).
    pub fn put(&mut self, n: u32, generation: u16, object: &Object) {
        let mut body = Vec::new();
        match &self.crypt {
            Some(crypt) => {
                let mut object = object.clone();
                super::pdf::map_strings(
                    &mut object,
                    &|bytes| crypt.encrypt_string(n, generation, bytes),
                    0,
                );
                write_object(&mut body, &object);
            }
            None => write_object(&mut body, object),
        }
        self.objects.insert(n, (generation, body));
    }

    /// Sets object `n` as a stream with `data` (already encoded as `dict` says).
    pub fn put_stream(&mut self, n: u32, mut dict: Dict, data: &[u8]) {
        let data = match &self.crypt {
            Some(crypt) => crypt.encrypt_stream(n, 0, &dict, data),
            None => data.to_vec(),
        };
        dict.set(b"Length", Object::Int(data.len() as i64));
        let mut dict = Object::Dict(dict);
        if let Some(crypt) = &self.crypt {
            super::pdf::map_strings(&mut dict, &|bytes| crypt.encrypt_string(n, 0, bytes), 0);
        }
        let mut body = Vec::new();
        write_object(&mut body, &dict);
        body.extend_from_slice(b"\nstream\n");
        body.extend_from_slice(&data);
        body.extend_from_slice(b"\nendstream");
        self.objects.insert(n, (0, body));
    }

    /// Adds a new object and returns its number.
    pub fn add(&mut self, object: &Object) -> u32 {
        let n = self.reserve();
        self.put(n, 0, object);
        n
    }

    /// Adds a new stream and returns its number.
    pub fn add_stream(&mut self, dict: Dict, data: &[u8]) -> u32 {
        let n = self.reserve();
        self.put_stream(n, dict, data);
        n
    }

    /// Serialises the update to append after `doc`'s bytes (`base` is the length of what comes
    /// before it, including any newline added to the original).
    pub fn serialize(&self, doc: &Document<'_>, base: usize) -> Vec<u8> {
        self.serialize_with(doc, base, &[])
    }

    /// As [`Update::serialize`], with byte patterns in the object bodies replaced first (each
    /// once), so offsets are computed on the final bytes.
    pub fn serialize_with(
        &self,
        doc: &Document<'_>,
        base: usize,
        replacements: &[(&[u8], &[u8])],
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let mut offsets: Vec<(u32, u16, usize)> = Vec::new();
        for (n, (generation, body)) in &self.objects {
            offsets.push((*n, *generation, base + out.len()));
            out.extend_from_slice(format!("{n} {generation} obj\n").as_bytes());
            let mut body = body.clone();
            for (needle, with) in replacements {
                if let Some(at) = super::pdf::find(&body, needle) {
                    body.splice(at..at + needle.len(), with.iter().copied());
                }
            }
            out.extend_from_slice(&body);
            out.extend_from_slice(b"\nendobj\n");
        }
        let previous_is_stream = doc.sections.first().is_some_and(|s| s.is_stream);
        let mut trailer = Dict::default();
        for key in [&b"Root"[..], b"Info", b"ID", b"Encrypt"] {
            if let Some(v) = doc.trailer.get(key) {
                trailer.set(key, v.clone());
            }
        }
        trailer.set(b"Prev", Object::Int(doc.startxref as i64));
        if previous_is_stream {
            let xref_n = self.next;
            let xref_offset = base + out.len();
            offsets.push((xref_n, 0, xref_offset));
            offsets.sort_by_key(|(n, _, _)| *n);
            let mut index = Vec::new();
            let mut data = Vec::new();
            for run in runs(&offsets) {
                index.push(Object::Int(i64::from(run[0].0)));
                index.push(Object::Int(run.len() as i64));
                for (_, generation, offset) in run {
                    data.push(1u8);
                    data.extend_from_slice(&(*offset as u32).to_be_bytes());
                    data.extend_from_slice(&generation.to_be_bytes());
                }
            }
            trailer.set(b"Type", Object::Name(b"XRef".to_vec()));
            trailer.set(b"Size", Object::Int(i64::from(xref_n + 1)));
            trailer.set(
                b"W",
                Object::Array(vec![Object::Int(1), Object::Int(4), Object::Int(2)]),
            );
            trailer.set(b"Index", Object::Array(index));
            trailer.set(b"Length", Object::Int(data.len() as i64));
            out.extend_from_slice(format!("{xref_n} 0 obj\n").as_bytes());
            write_object(&mut out, &Object::Dict(trailer));
            out.extend_from_slice(b"\nstream\n");
            out.extend_from_slice(&data);
            out.extend_from_slice(b"\nendstream\nendobj\n");
            out.extend_from_slice(format!("startxref\n{xref_offset}\n%%EOF\n").as_bytes());
        } else {
            let xref_offset = base + out.len();
            out.extend_from_slice(b"xref\n");
            for run in runs(&offsets) {
                out.extend_from_slice(format!("{} {}\n", run[0].0, run.len()).as_bytes());
                for (_, generation, offset) in run {
                    out.extend_from_slice(format!("{offset:010} {generation:05} n\r\n").as_bytes());
                }
            }
            trailer.set(b"Size", Object::Int(i64::from(self.next)));
            out.extend_from_slice(b"trailer\n");
            write_object(&mut out, &Object::Dict(trailer));
            out.extend_from_slice(format!("\nstartxref\n{xref_offset}\n%%EOF\n").as_bytes());
        }
        out
    }
}

/// Splits sorted entries into runs of consecutive object numbers.
fn runs(entries: &[(u32, u16, usize)]) -> Vec<&[(u32, u16, usize)]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=entries.len() {
        if i == entries.len() || entries[i].0 != entries[i - 1].0 + 1 {
            out.push(&entries[start..i]);
            start = i;
        }
    }
    out
}
