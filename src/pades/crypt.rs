//! The PDF standard security handler (ISO 32000-2 §7.6.4): RC4 40/128-bit (R2–R4), AES-128
//! (R4, AESV2) and AES-256 (R5/R6, AESV3), opened with a user password (empty by default:
//! published decisions often carry only an owner password that restricts printing or editing).
//! Decrypts strings and streams as they are read, and encrypts what an incremental update adds,
//! so that a prepared file keeps its encryption.

use aes::cipher::{
    block_padding::NoPadding, block_padding::Pkcs7, BlockDecryptMut, BlockEncryptMut, KeyIvInit,
};
use md5::{Digest as _, Md5};
use rc4::{KeyInit, StreamCipher};
use sha2::{Sha256, Sha384, Sha512};

use super::object::{Dict, Object};

/// The padding string of Algorithm 2.
const PAD: [u8; 32] = [
    0x28, 0xBF, 0x4E, 0x5E, 0x4E, 0x75, 0x8A, 0x41, 0x64, 0x00, 0x4E, 0x56, 0xFF, 0xFA, 0x01, 0x08,
    0x2E, 0x2E, 0x00, 0xB6, 0xD0, 0x68, 0x3E, 0x80, 0x2F, 0x0C, 0xA9, 0xFE, 0x64, 0x53, 0x69, 0x7A,
];

/// Why a document cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A user password is set (and was not given, or is wrong).
    #[error("the PDF is protected by a user password (mật khẩu mở tệp): `kyso pdf verify --password` opens it; remove it before preparing")]
    PasswordRequired,
    /// A security handler or algorithm Kyso does not implement.
    #[error("unsupported encryption: {0}")]
    Unsupported(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Identity,
    Rc4,
    AesV2,
    AesV3,
}

/// The keys and methods of an opened encrypted document.
#[derive(Clone, Debug)]
pub struct Crypt {
    key: Vec<u8>,
    strings: Method,
    streams: Method,
    encrypt_metadata: bool,
    /// The object number of the /Encrypt dictionary (never itself encrypted).
    pub encrypt_object: Option<u32>,
}

fn bytes(dict: &Dict, key: &[u8]) -> Vec<u8> {
    dict.get(key)
        .and_then(Object::as_string)
        .map(<[u8]>::to_vec)
        .unwrap_or_default()
}

fn crypt_filter(dict: &Dict, name: &[u8], v: i64) -> Result<Method, Error> {
    if v < 4 {
        return Ok(Method::Rc4);
    }
    let filter = dict
        .get(name)
        .and_then(Object::as_name)
        .unwrap_or(b"Identity");
    if filter == b"Identity" {
        return Ok(Method::Identity);
    }
    let cfm = dict
        .get(b"CF")
        .and_then(Object::as_dict)
        .and_then(|cf| cf.get(filter))
        .and_then(Object::as_dict)
        .and_then(|f| f.get(b"CFM"))
        .and_then(Object::as_name)
        .unwrap_or(b"None");
    match cfm {
        b"V2" => Ok(Method::Rc4),
        b"AESV2" => Ok(Method::AesV2),
        b"AESV3" => Ok(Method::AesV3),
        b"None" => Ok(Method::Identity),
        other => Err(Error::Unsupported(format!(
            "crypt filter method {}",
            String::from_utf8_lossy(other)
        ))),
    }
}

impl Crypt {
    /// Opens the document's encryption (`encrypt` is the resolved /Encrypt dictionary, `id0`
    /// the first /ID string) with `password`.
    ///
    /// # Errors
    /// [`Error::PasswordRequired`] when the password does not open it, [`Error::Unsupported`]
    /// for another security handler.
    pub fn open(encrypt: &Dict, id0: &[u8], password: &[u8]) -> Result<Self, Error> {
        if encrypt.get(b"Filter").and_then(Object::as_name) != Some(b"Standard") {
            return Err(Error::Unsupported(
                "a security handler other than Standard".into(),
            ));
        }
        let v = encrypt.get(b"V").and_then(Object::as_int).unwrap_or(0);
        let r = encrypt.get(b"R").and_then(Object::as_int).unwrap_or(0);
        let strings = crypt_filter(encrypt, b"StrF", v)?;
        let streams = crypt_filter(encrypt, b"StmF", v)?;
        let encrypt_metadata =
            !matches!(encrypt.get(b"EncryptMetadata"), Some(Object::Bool(false)));
        let o = bytes(encrypt, b"O");
        let u = bytes(encrypt, b"U");
        let key = match r {
            2..=4 => {
                let length = match v {
                    1 => 40,
                    _ => encrypt
                        .get(b"Length")
                        .and_then(Object::as_int)
                        .unwrap_or(40),
                };
                if !(40..=128).contains(&length) || length % 8 != 0 {
                    return Err(Error::Unsupported(format!("key length {length}")));
                }
                let p = encrypt.get(b"P").and_then(Object::as_int).unwrap_or(0) as i32;
                let n = if r == 2 { 5 } else { (length / 8) as usize };
                let key = legacy_key(password, &o, p, id0, r, n, encrypt_metadata);
                if !legacy_user_ok(&key, &u, id0, r) {
                    return Err(Error::PasswordRequired);
                }
                key
            }
            5 | 6 => {
                if u.len() < 48 {
                    return Err(Error::Unsupported("short /U".into()));
                }
                let password = &password[..password.len().min(127)];
                let hash = |input: &[u8], salt: &[u8]| {
                    if r == 5 {
                        Sha256::digest([input, salt].concat()).to_vec()
                    } else {
                        hash_2b(input, salt, &[])
                    }
                };
                if hash(password, &u[32..40]) != u[..32] {
                    return Err(Error::PasswordRequired);
                }
                let intermediate = hash(password, &u[40..48]);
                let ue = bytes(encrypt, b"UE");
                if ue.len() != 32 {
                    return Err(Error::Unsupported("/UE is not 32 bytes".into()));
                }
                let mut key = ue.clone();
                cbc::Decryptor::<aes::Aes256>::new_from_slices(&intermediate, &[0u8; 16])
                    .map_err(|e| Error::Unsupported(e.to_string()))?
                    .decrypt_padded_mut::<NoPadding>(&mut key)
                    .map_err(|e| Error::Unsupported(e.to_string()))?;
                key
            }
            other => return Err(Error::Unsupported(format!("revision {other}"))),
        };
        Ok(Self {
            key,
            strings,
            streams,
            encrypt_metadata,
            encrypt_object: None,
        })
    }

    fn object_key(&self, method: Method, num: u32, gen: u16) -> Vec<u8> {
        if method == Method::AesV3 {
            return self.key.clone();
        }
        let mut input = self.key.clone();
        input.extend_from_slice(&num.to_le_bytes()[..3]);
        input.extend_from_slice(&gen.to_le_bytes());
        if method == Method::AesV2 {
            input.extend_from_slice(b"sAlT");
        }
        let digest = Md5::digest(&input);
        digest[..(self.key.len() + 5).min(16)].to_vec()
    }

    fn apply(&self, method: Method, num: u32, gen: u16, data: &[u8], encrypt: bool) -> Vec<u8> {
        let key = self.object_key(method, num, gen);
        match method {
            Method::Identity => data.to_vec(),
            Method::Rc4 => rc4_apply(&key, data),
            Method::AesV2 | Method::AesV3 => {
                if encrypt {
                    aes_encrypt(&key, num, gen, data)
                } else {
                    aes_decrypt(&key, data)
                }
            }
        }
    }

    /// A string of object `num` as written in the file → its text.
    pub fn decrypt_string(&self, num: u32, gen: u16, data: &[u8]) -> Vec<u8> {
        self.apply(self.strings, num, gen, data, false)
    }

    /// A stream's raw bytes → decrypted (before its filters). Metadata stays clear when
    /// `/EncryptMetadata false`; a stream with its own `/Crypt` filter is left as it is.
    pub fn decrypt_stream(&self, num: u32, gen: u16, dict: &Dict, data: &[u8]) -> Vec<u8> {
        if !self.stream_encrypted(dict) {
            return data.to_vec();
        }
        self.apply(self.streams, num, gen, data, false)
    }

    /// A string for a new object `num` → encrypted as the document requires.
    pub fn encrypt_string(&self, num: u32, gen: u16, data: &[u8]) -> Vec<u8> {
        self.apply(self.strings, num, gen, data, true)
    }

    /// A new stream's (filtered) bytes → encrypted.
    pub fn encrypt_stream(&self, num: u32, gen: u16, dict: &Dict, data: &[u8]) -> Vec<u8> {
        if !self.stream_encrypted(dict) {
            return data.to_vec();
        }
        self.apply(self.streams, num, gen, data, true)
    }

    fn stream_encrypted(&self, dict: &Dict) -> bool {
        let kind = dict.get(b"Type").and_then(Object::as_name);
        if kind == Some(b"XRef") {
            return false;
        }
        if kind == Some(b"Metadata") && !self.encrypt_metadata {
            return false;
        }
        let has_crypt_filter = match dict.get(b"Filter") {
            Some(Object::Name(n)) => n == b"Crypt",
            Some(Object::Array(items)) => items.iter().any(|i| i.as_name() == Some(b"Crypt")),
            _ => false,
        };
        !has_crypt_filter
    }
}

/// Algorithm 2: the file key of R2–R4.
fn legacy_key(
    password: &[u8],
    o: &[u8],
    p: i32,
    id0: &[u8],
    r: i64,
    n: usize,
    meta: bool,
) -> Vec<u8> {
    let mut input = padded(password).to_vec();
    input.extend_from_slice(&o[..o.len().min(32)]);
    input.extend_from_slice(&p.to_le_bytes());
    input.extend_from_slice(id0);
    if r >= 4 && !meta {
        input.extend_from_slice(&[0xff; 4]);
    }
    let mut digest = Md5::digest(&input).to_vec();
    if r >= 3 {
        for _ in 0..50 {
            digest = Md5::digest(&digest[..n]).to_vec();
        }
    }
    digest.truncate(n);
    digest
}

fn padded(password: &[u8]) -> [u8; 32] {
    let mut out = PAD;
    let n = password.len().min(32);
    out[..n].copy_from_slice(&password[..n]);
    out[n..].copy_from_slice(&PAD[..32 - n]);
    out
}

/// Algorithms 4 and 5: whether `key` opens /U.
fn legacy_user_ok(key: &[u8], u: &[u8], id0: &[u8], r: i64) -> bool {
    if r == 2 {
        return u.len() >= 32 && rc4_apply(key, &PAD) == u[..32];
    }
    let mut value = Md5::digest([&PAD[..], id0].concat()).to_vec();
    value = rc4_apply(key, &value);
    for i in 1..=19u8 {
        let k: Vec<u8> = key.iter().map(|b| b ^ i).collect();
        value = rc4_apply(&k, &value);
    }
    u.len() >= 16 && value[..16] == u[..16]
}

fn rc4_apply(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    // RC4 keys are 5 to 16 bytes here (40 to 128 bits).
    match key.len() {
        5 => rc4::Rc4::<rc4::consts::U5>::new_from_slice(key)
            .map(|mut c| c.apply_keystream(&mut out)),
        10 => rc4::Rc4::<rc4::consts::U10>::new_from_slice(key)
            .map(|mut c| c.apply_keystream(&mut out)),
        16 => rc4::Rc4::<rc4::consts::U16>::new_from_slice(key)
            .map(|mut c| c.apply_keystream(&mut out)),
        _ => {
            // Other lengths (6–15 bytes): RC4 by hand, the cipher is twelve lines.
            let mut s: Vec<u8> = (0..=255u8).collect();
            let mut j = 0u8;
            for i in 0..256 {
                j = j.wrapping_add(s[i]).wrapping_add(key[i % key.len()]);
                s.swap(i, j as usize);
            }
            let (mut i, mut j) = (0u8, 0u8);
            for byte in &mut out {
                i = i.wrapping_add(1);
                j = j.wrapping_add(s[i as usize]);
                s.swap(i as usize, j as usize);
                *byte ^= s[s[i as usize].wrapping_add(s[j as usize]) as usize];
            }
            Ok(())
        }
    }
    .ok();
    out
}

fn aes_decrypt(key: &[u8], data: &[u8]) -> Vec<u8> {
    if data.len() < 32 || !data.len().is_multiple_of(16) {
        // Shorter than IV + one block (an empty string is 16 bytes of IV only): nothing.
        return Vec::new();
    }
    let (iv, body) = data.split_at(16);
    let mut buf = body.to_vec();
    let plain = match key.len() {
        16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(key, iv)
            .ok()
            .and_then(|d| {
                d.decrypt_padded_mut::<Pkcs7>(&mut buf)
                    .ok()
                    .map(<[u8]>::to_vec)
            }),
        32 => cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv)
            .ok()
            .and_then(|d| {
                d.decrypt_padded_mut::<Pkcs7>(&mut buf)
                    .ok()
                    .map(<[u8]>::to_vec)
            }),
        _ => None,
    };
    plain.unwrap_or_default()
}

fn aes_encrypt(key: &[u8], num: u32, gen: u16, data: &[u8]) -> Vec<u8> {
    // A per-object IV (the MD5 of the object id and the data): unique per object and content.
    let iv_seed = Md5::digest([&num.to_le_bytes()[..], &gen.to_le_bytes(), data].concat());
    let iv: [u8; 16] = iv_seed.into();
    let mut buf = data.to_vec();
    buf.resize(data.len() + 16, 0);
    let sealed = match key.len() {
        16 => cbc::Encryptor::<aes::Aes128>::new_from_slices(key, &iv)
            .ok()
            .and_then(|e| {
                e.encrypt_padded_mut::<Pkcs7>(&mut buf, data.len())
                    .ok()
                    .map(<[u8]>::to_vec)
            }),
        32 => cbc::Encryptor::<aes::Aes256>::new_from_slices(key, &iv)
            .ok()
            .and_then(|e| {
                e.encrypt_padded_mut::<Pkcs7>(&mut buf, data.len())
                    .ok()
                    .map(<[u8]>::to_vec)
            }),
        _ => None,
    };
    let mut out = iv.to_vec();
    out.extend(sealed.unwrap_or_default());
    out
}

/// Algorithm 2.B (R6): the hardened hash of `password` with `salt` (and the /U for owners).
fn hash_2b(password: &[u8], salt: &[u8], udata: &[u8]) -> Vec<u8> {
    let mut k = Sha256::digest([password, salt, udata].concat()).to_vec();
    let mut round = 0u32;
    loop {
        let mut k1 = Vec::with_capacity(64 * (password.len() + k.len() + udata.len()));
        for _ in 0..64 {
            k1.extend_from_slice(password);
            k1.extend_from_slice(&k);
            k1.extend_from_slice(udata);
        }
        let len = k1.len();
        let e = cbc::Encryptor::<aes::Aes128>::new_from_slices(&k[..16], &k[16..32])
            .ok()
            .and_then(|enc| {
                enc.encrypt_padded_mut::<NoPadding>(&mut k1, len)
                    .ok()
                    .map(<[u8]>::to_vec)
            })
            .unwrap_or_default();
        let modulo: u32 = e.iter().take(16).map(|b| u32::from(*b)).sum::<u32>() % 3;
        k = match modulo {
            0 => Sha256::digest(&e).to_vec(),
            1 => Sha384::digest(&e).to_vec(),
            _ => Sha512::digest(&e).to_vec(),
        };
        round += 1;
        if round >= 64 && e.last().is_some_and(|last| u32::from(*last) <= round - 32) {
            break;
        }
        if round > 10_000 {
            break;
        }
    }
    k.truncate(32);
    k
}
