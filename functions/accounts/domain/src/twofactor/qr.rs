//! The enrolment QR code: the `otpauth://` URI drawn as SVG, so clients can show it without an image library.

use qrcode::QrCode;
use qrcode::render::svg;

/// The smallest width and height of the drawing, in pixels: large enough for phone cameras to read off a screen.
const MIN_DIMENSION: u32 = 200;

/// The text could not be encoded as a QR code (in practice: it is too long).
#[derive(Debug, thiserror::Error)]
#[error("cannot draw a QR code: {0}")]
pub struct QrError(#[from] qrcode::types::QrError);

/// `uri` as a standalone SVG document, black on white, with the standard quiet zone around it.
pub fn svg(uri: &str) -> Result<String, QrError> {
    let code = QrCode::new(uri.as_bytes())?;
    Ok(code
        .render::<svg::Color<'_>>()
        .min_dimensions(MIN_DIMENSION, MIN_DIMENSION)
        .quiet_zone(true)
        .build())
}
