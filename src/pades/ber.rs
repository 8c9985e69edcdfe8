//! BER → DER for CMS read from real PDFs: many signers (BouncyCastle, DSS, Adobe) write
//! indefinite lengths and constructed OCTET STRINGs, which a DER parser refuses. Also the raw
//! bytes of the signed attributes, which must be verified exactly as the signer encoded them
//! (a re-encoding would sort an unsorted SET and break the signature).

struct Tlv {
    tag: Vec<u8>,
    constructed: bool,
    content: usize,
    /// End of the content (for indefinite lengths, before the end-of-contents octets).
    end: usize,
    /// End of the whole element.
    next: usize,
}

fn read_tlv(data: &[u8], pos: usize, depth: usize) -> Option<Tlv> {
    if depth > 64 {
        return None;
    }
    let first = *data.get(pos)?;
    let mut at = pos + 1;
    if first & 0x1f == 0x1f {
        while data.get(at)? & 0x80 != 0 {
            at += 1;
        }
        at += 1;
    }
    let tag = data.get(pos..at)?.to_vec();
    let constructed = first & 0x20 != 0;
    let len_byte = *data.get(at)?;
    at += 1;
    if len_byte == 0x80 {
        if !constructed {
            return None;
        }
        // Indefinite: children until 00 00.
        let content = at;
        let mut p = at;
        loop {
            if data.get(p..p + 2)? == [0, 0] {
                return Some(Tlv {
                    tag,
                    constructed,
                    content,
                    end: p,
                    next: p + 2,
                });
            }
            p = read_tlv(data, p, depth + 1)?.next;
        }
    }
    let len = if len_byte & 0x80 == 0 {
        len_byte as usize
    } else {
        let n = (len_byte & 0x7f) as usize;
        if n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *data.get(at + i)? as usize;
        }
        at += n;
        len
    };
    let end = at.checked_add(len)?;
    if end > data.len() {
        return None;
    }
    Some(Tlv {
        tag,
        constructed,
        content: at,
        end,
        next: end,
    })
}

fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

fn convert(data: &[u8], tlv: &Tlv, out: &mut Vec<u8>, depth: usize) -> Option<()> {
    if !tlv.constructed {
        out.extend_from_slice(&tlv.tag);
        push_len(out, tlv.end - tlv.content);
        out.extend_from_slice(&data[tlv.content..tlv.end]);
        return Some(());
    }
    let mut children = Vec::new();
    let mut p = tlv.content;
    while p < tlv.end {
        let child = read_tlv(data, p, depth + 1)?;
        p = child.next;
        children.push(child);
    }
    // A constructed OCTET STRING (BER) becomes one primitive OCTET STRING.
    if tlv.tag == [0x24] {
        let mut bytes = Vec::new();
        for child in &children {
            let mut inner = Vec::new();
            convert(data, child, &mut inner, depth + 1)?;
            let parsed = read_tlv(&inner, 0, 0)?;
            bytes.extend_from_slice(&inner[parsed.content..parsed.end]);
        }
        out.push(0x04);
        push_len(out, bytes.len());
        out.extend_from_slice(&bytes);
        return Some(());
    }
    let mut body = Vec::new();
    for child in &children {
        convert(data, child, &mut body, depth + 1)?;
    }
    out.extend_from_slice(&tlv.tag);
    push_len(out, body.len());
    out.extend_from_slice(&body);
    Some(())
}

/// The first element of `data` in DER lengths (trailing zero padding ignored).
pub fn to_der(data: &[u8]) -> Option<Vec<u8>> {
    let top = read_tlv(data, 0, 0)?;
    let mut out = Vec::new();
    convert(data, &top, &mut out, 0)?;
    Some(out)
}

fn children(data: &[u8], tlv: &Tlv) -> Vec<Tlv> {
    let mut out = Vec::new();
    let mut p = tlv.content;
    while p < tlv.end {
        match read_tlv(data, p, 1) {
            Some(child) => {
                p = child.next;
                out.push(child);
            }
            None => break,
        }
    }
    out
}

/// The signed attributes of the first SignerInfo of a DER ContentInfo(SignedData), as
/// signed: the `[0] IMPLICIT` bytes with their tag turned into SET (0x31).
pub fn signed_attributes_raw(cms: &[u8]) -> Option<Vec<u8>> {
    let content_info = read_tlv(cms, 0, 0)?;
    let explicit = children(cms, &content_info).into_iter().nth(1)?;
    let signed_data = children(cms, &explicit).into_iter().next()?;
    let signer_infos = children(cms, &signed_data)
        .into_iter()
        .rfind(|c| c.tag == [0x31])?;
    let signer = children(cms, &signer_infos).into_iter().next()?;
    let attrs = children(cms, &signer)
        .into_iter()
        .find(|c| c.tag == [0xa0])?;
    let mut raw = Vec::new();
    raw.push(0x31);
    push_len(&mut raw, attrs.end - attrs.content);
    raw.extend_from_slice(&cms[attrs.content..attrs.end]);
    Some(raw)
}

/// One element inside a constructed element: its first tag byte, its content and all its bytes.
pub struct Element<'a> {
    /// First tag byte (0x30 SEQUENCE, 0x02 INTEGER, 0xa0 `[0]`…).
    pub tag: u8,
    /// Content octets.
    pub content: &'a [u8],
    /// Tag, length and content.
    pub whole: &'a [u8],
}

/// The elements inside the first (constructed) element of `data`.
pub fn elements(data: &[u8]) -> Option<Vec<Element<'_>>> {
    let top = read_tlv(data, 0, 0)?;
    let mut out = Vec::new();
    let mut p = top.content;
    while p < top.end {
        let child = read_tlv(data, p, 1)?;
        out.push(Element {
            tag: data[p],
            content: &data[child.content..child.end],
            whole: &data[p..child.next],
        });
        p = child.next;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indefinite_lengths_and_constructed_octet_strings_become_der() {
        // SEQUENCE (indef) { OCTET STRING (constructed, indef) { 04 01 AA, 04 01 BB } } + padding
        let ber = [
            0x30, 0x80, 0x24, 0x80, 0x04, 0x01, 0xaa, 0x04, 0x01, 0xbb, 0, 0, 0, 0, 0, 0, 0,
        ];
        assert_eq!(to_der(&ber), Some(vec![0x30, 0x04, 0x04, 0x02, 0xaa, 0xbb]));
    }

    #[test]
    fn long_lengths_are_minimal() {
        let mut der = vec![0x04, 0x82, 0x01, 0x00];
        der.extend(std::iter::repeat_n(7u8, 256));
        assert_eq!(to_der(&der), Some(der.clone()));
    }
}
