//! PNG stamps (a leader's blue signature, an agency's red seal) as PDF image XObjects: RGB
//! pixels with the alpha channel as a `/SMask`, so the transparency is kept.

use std::io::Write as _;

use super::pdf::{Dict, Object};
use super::update::Update;

/// Errors reading an image.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Not a PNG the decoder accepts.
    #[error("PNG: {0}")]
    Png(String),
    /// Every pixel is opaque: the stamp would cover the text under it.
    #[error("the {0} image has no transparent background (a PNG with alpha or tRNS is needed)")]
    Opaque(&'static str),
    /// The image is not in the colour Nghị định 30 gives it.
    #[error("the {what} image is not predominantly {expected} (its coloured pixels are {share}% {expected}); check the file, or allow any colour")]
    Colour {
        /// "signature" or "seal".
        what: &'static str,
        /// "blue" or "red".
        expected: &'static str,
        /// The share of coloured pixels that are of that colour.
        share: u32,
    },
}

/// The colour a stamp image must mostly be: the leader's signature blue, the seal red
/// (Nghị định 30, Phụ lục I §II.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ink {
    /// A handwritten signature.
    Blue,
    /// An agency's seal.
    Red,
}

/// An 8-bit RGBA image.
#[derive(Clone, Debug)]
pub struct RgbaImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Row-major RGBA bytes.
    pub pixels: Vec<u8>,
    /// Resolution from the PNG `pHYs` chunk, pixels per metre, if given.
    pub pixels_per_metre: Option<u32>,
}

impl RgbaImage {
    /// Decodes a PNG of any colour type and depth to RGBA8.
    ///
    /// # Errors
    /// A file that is not a PNG.
    pub fn from_png(bytes: &[u8]) -> Result<Self, Error> {
        let mut decoder = png::Decoder::new(bytes);
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = decoder.read_info().map_err(|e| Error::Png(e.to_string()))?;
        let pixels_per_metre = reader
            .info()
            .pixel_dims
            .filter(|d| d.unit == png::Unit::Meter && d.xppu > 0)
            .map(|d| d.xppu);
        let mut buffer = vec![0; reader.output_buffer_size()];
        let frame = reader
            .next_frame(&mut buffer)
            .map_err(|e| Error::Png(e.to_string()))?;
        let data = &buffer[..frame.buffer_size()];
        let pixels = match frame.color_type {
            png::ColorType::Rgba => data.to_vec(),
            png::ColorType::Rgb => data
                .chunks_exact(3)
                .flat_map(|p| [p[0], p[1], p[2], 255])
                .collect(),
            png::ColorType::GrayscaleAlpha => data
                .chunks_exact(2)
                .flat_map(|p| [p[0], p[0], p[0], p[1]])
                .collect(),
            png::ColorType::Grayscale => data.iter().flat_map(|g| [*g, *g, *g, 255]).collect(),
            png::ColorType::Indexed => return Err(Error::Png("palette not expanded".into())),
        };
        Ok(Self {
            width: frame.width,
            height: frame.height,
            pixels,
            pixels_per_metre,
        })
    }

    /// The image printed `width_mm` wide: for a seal whose PNG does not say its resolution (or
    /// says it wrongly), the real size its agency gives. A width that is not positive changes
    /// nothing.
    pub fn with_width_mm(mut self, width_mm: f64) -> Self {
        if width_mm.is_finite() && width_mm > 0.0 && self.width > 0 {
            let ppm = f64::from(self.width) / (width_mm / 1000.0);
            if ppm.is_finite() && ppm >= 1.0 && ppm <= f64::from(u32::MAX) {
                self.pixels_per_metre = Some(ppm.round() as u32);
            }
        }
        self
    }

    /// Checks what Nghị định 30 asks of a stamp image: a transparent background, and mostly
    /// the `ink` colour (unless `any_colour`: agencies whose images differ). Returns the share of
    /// coloured pixels in that colour, for the output.
    ///
    /// # Errors
    /// [`Error::Opaque`], [`Error::Colour`].
    pub fn check(&self, ink: Ink, any_colour: bool) -> Result<u32, Error> {
        let what = match ink {
            Ink::Blue => "signature",
            Ink::Red => "seal",
        };
        let pixels = self.pixels.chunks_exact(4);
        if pixels.clone().all(|p| p[3] == 255) {
            return Err(Error::Opaque(what));
        }
        // Hue of the clearly coloured, visible pixels (gray, white and faint ones say nothing).
        let (mut coloured, mut matching) = (0u64, 0u64);
        for p in pixels {
            if p[3] < 128 {
                continue;
            }
            let (r, g, b) = (f64::from(p[0]), f64::from(p[1]), f64::from(p[2]));
            let max = r.max(g).max(b);
            let min = r.min(g).min(b);
            if max < 40.0 || (max - min) / max < 0.3 {
                continue;
            }
            let hue = if max == r {
                (60.0 * ((g - b) / (max - min))).rem_euclid(360.0)
            } else if max == g {
                60.0 * ((b - r) / (max - min)) + 120.0
            } else {
                60.0 * ((r - g) / (max - min)) + 240.0
            };
            coloured += 1;
            let hit = match ink {
                Ink::Red => !(20.0..=330.0).contains(&hue),
                Ink::Blue => (180.0..=270.0).contains(&hue),
            };
            matching += u64::from(hit);
        }
        let share = (matching * 100)
            .checked_div(coloured)
            .map_or(0, |s| u32::try_from(s).unwrap_or(100));
        if share < 50 && !any_colour {
            return Err(Error::Colour {
                what,
                expected: match ink {
                    Ink::Blue => "blue",
                    Ink::Red => "red",
                },
                share,
            });
        }
        Ok(share)
    }

    /// Physical size in PDF points from the PNG resolution (a seal must be printed at its real
    /// size), if the PNG says its resolution.
    pub fn size_pt(&self) -> Option<(f64, f64)> {
        let ppm = f64::from(self.pixels_per_metre?);
        let to_pt = |px: u32| f64::from(px) / ppm * 1000.0 / 25.4 * 72.0;
        Some((to_pt(self.width), to_pt(self.height)))
    }

    /// Writes the image (and its alpha mask when not fully opaque) into `update`; returns the
    /// image object number.
    pub fn add_to(&self, update: &mut Update) -> u32 {
        let mut rgb = Vec::with_capacity(self.pixels.len() / 4 * 3);
        let mut alpha = Vec::with_capacity(self.pixels.len() / 4);
        for p in self.pixels.chunks_exact(4) {
            rgb.extend_from_slice(&p[..3]);
            alpha.push(p[3]);
        }
        let image_dict = |colorspace: &[u8]| {
            let mut d = Dict::default();
            d.set(b"Type", Object::Name(b"XObject".to_vec()));
            d.set(b"Subtype", Object::Name(b"Image".to_vec()));
            d.set(b"Width", Object::Int(i64::from(self.width)));
            d.set(b"Height", Object::Int(i64::from(self.height)));
            d.set(b"ColorSpace", Object::Name(colorspace.to_vec()));
            d.set(b"BitsPerComponent", Object::Int(8));
            d.set(b"Filter", Object::Name(b"FlateDecode".to_vec()));
            d
        };
        let mut dict = image_dict(b"DeviceRGB");
        if alpha.iter().any(|a| *a != 255) {
            let mask = update.add_stream(image_dict(b"DeviceGray"), &deflate(&alpha));
            dict.set(b"SMask", Object::Ref(mask, 0));
        }
        update.add_stream(dict, &deflate(&rgb))
    }
}

/// zlib-compresses `data`.
pub fn deflate(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

#[cfg(test)]
mod checks {
    use super::{Error, Ink, RgbaImage};

    fn image(pixels: &[[u8; 4]]) -> RgbaImage {
        RgbaImage {
            width: u32::try_from(pixels.len()).unwrap_or(1),
            height: 1,
            pixels: pixels.concat(),
            pixels_per_metre: None,
        }
    }

    const BLUE: [u8; 4] = [20, 40, 200, 255];
    const RED: [u8; 4] = [210, 20, 30, 255];
    const GRAY: [u8; 4] = [90, 90, 90, 255];
    const CLEAR: [u8; 4] = [255, 255, 255, 0];

    #[test]
    fn a_stamp_image_needs_a_transparent_background_and_its_colour() {
        assert_eq!(
            image(&[BLUE, BLUE, GRAY, CLEAR])
                .check(Ink::Blue, false)
                .ok(),
            Some(100)
        );
        assert_eq!(
            image(&[RED, RED, BLUE, CLEAR]).check(Ink::Red, false).ok(),
            Some(66)
        );
        assert!(matches!(
            image(&[BLUE, BLUE]).check(Ink::Blue, false),
            Err(Error::Opaque("signature"))
        ));
        let red_signature = image(&[RED, RED, CLEAR]).check(Ink::Blue, false);
        assert!(matches!(
            red_signature,
            Err(Error::Colour {
                what: "signature",
                share: 0,
                ..
            })
        ));
        assert!(matches!(
            image(&[BLUE, CLEAR]).check(Ink::Red, false),
            Err(Error::Colour { what: "seal", .. })
        ));
        // Allowed by the agency: the share is still measured, and transparency still required.
        assert_eq!(image(&[RED, CLEAR]).check(Ink::Blue, true).ok(), Some(0));
        assert!(image(&[RED, RED]).check(Ink::Blue, true).is_err());
    }
}
