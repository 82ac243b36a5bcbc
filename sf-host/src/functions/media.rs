//! Image SFs over PNG with the pure-Rust `image` crate: grayscale and thumbnail.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, ImageReader, Limits};

use super::{Args, parse_num};
use crate::error::{Error, Result};
use crate::sdk::{Function, FunctionError, FunctionInfo, Input, Output};

/// Largest width or height decoded: bounds memory against a PNG header announcing a huge
/// image.
const MAX_SIDE: u32 = 16_384;

fn decode(input: &Input) -> Result<DynamicImage, FunctionError> {
    let mut reader = ImageReader::with_format(Cursor::new(&input.content[..]), ImageFormat::Png);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(512 << 20);
    reader.limits(limits);
    reader
        .decode()
        .map_err(|e| FunctionError::Rejected(format!("not a PNG image: {e}")))
}

fn encode(img: &DynamicImage) -> Result<Output, FunctionError> {
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
        .map_err(|e| FunctionError::Failed(format!("PNG encoding: {e}")))?;
    Ok(Output::new(out))
}

pub(super) fn grayscale_info() -> FunctionInfo {
    FunctionInfo::new("/sf/grayscale", "1", "image/png", "image/png")
        .describe("converts an image to grayscale")
}

/// Converts to 8-bit grayscale (alpha kept).
#[derive(Debug)]
pub(super) struct Grayscale;

impl Function for Grayscale {
    fn info(&self) -> FunctionInfo {
        grayscale_info()
    }
    fn apply(&self, input: Input) -> Result<Output, FunctionError> {
        let img = decode(&input)?;
        let gray = if img.color().has_alpha() {
            DynamicImage::ImageLumaA8(img.to_luma_alpha8())
        } else {
            DynamicImage::ImageLuma8(img.to_luma8())
        };
        encode(&gray)
    }
}

pub(super) fn thumbnail_info() -> FunctionInfo {
    FunctionInfo::new("/sf/thumbnail", "1", "image/png", "image/png")
        .describe("resizes to fit size x size pixels, keeping the aspect ratio (size=128)")
}

/// Resizes to fit a square, keeping the aspect ratio (never enlarges).
#[derive(Debug)]
pub(super) struct Thumbnail {
    size: u32,
}

impl Thumbnail {
    pub(super) fn from_args(args: &Args) -> Result<Self> {
        let size = parse_num(args, "size", 128u32)?;
        if size == 0 || size > MAX_SIDE {
            return Err(Error::Spec(format!("thumbnail size is 1..={MAX_SIDE}")));
        }
        Ok(Self { size })
    }
}

impl Function for Thumbnail {
    fn info(&self) -> FunctionInfo {
        thumbnail_info()
    }
    fn apply(&self, input: Input) -> Result<Output, FunctionError> {
        let img = decode(&input)?;
        if img.width() <= self.size && img.height() <= self.size {
            return encode(&img);
        }
        encode(&img.thumbnail(self.size, self.size))
    }
}

#[cfg(test)]
mod tests {

    use bytes::Bytes;
    use image::{Rgb, RgbImage};

    use super::*;

    fn png(w: u32, h: u32) -> Bytes {
        let img = RgbImage::from_fn(w, h, |x, y| Rgb([(x * 7) as u8, (y * 5) as u8, 200]));
        let mut out = Vec::new();
        DynamicImage::ImageRgb8(img)
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out.into()
    }

    fn input(content: Bytes) -> Input {
        Input::new(content, nfwd_tlv::Name::default())
    }

    #[test]
    fn grayscale_and_thumbnail() {
        let g = Grayscale.apply(input(png(20, 10))).unwrap().content;
        let img = image::load_from_memory(&g).unwrap();
        assert_eq!(img.color(), image::ColorType::L8);
        assert_eq!((img.width(), img.height()), (20, 10));
        let t = Thumbnail { size: 8 }
            .apply(input(png(20, 10)))
            .unwrap()
            .content;
        let img = image::load_from_memory(&t).unwrap();
        assert_eq!((img.width(), img.height()), (8, 4));
        let e = Grayscale
            .apply(input(Bytes::from_static(b"\x89PNG\r\n\x1a\ngarbage")))
            .unwrap_err();
        assert_eq!(e.kind(), "rejected");
    }
}
