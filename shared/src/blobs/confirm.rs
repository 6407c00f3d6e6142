//! The confirm step: an uploaded object is accepted only after its real size and leading bytes agree with what
//! the upload allowed. Stores may not enforce size (moto, or an older presign), and clients lie about types.

use super::{BlobError, Blobs, UploadRules};

/// What a confirmed upload turned out to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Confirmed {
    pub key: String,
    pub size: u64,
    pub content_type: String,
}

/// Why an upload was refused. The object has been deleted when this is returned.
#[derive(Debug, thiserror::Error)]
pub enum ConfirmError {
    #[error("nothing was uploaded")]
    Missing,
    #[error("upload is {size} bytes; allowed {min}..={max}")]
    Size { size: u64, min: u64, max: u64 },
    #[error("upload content is {detected:?}, not {expected}")]
    Type {
        detected: Option<String>,
        expected: String,
    },
    #[error(transparent)]
    Store(BlobError),
}

impl ConfirmError {
    /// The request field a refused upload is about and what to tell the client (`key` when nothing was
    /// uploaded, `file` when it is too big, too small or not of its declared type); `Err` with the store's error
    /// when the store failed, which is not the client's doing.
    pub fn client_field(self) -> Result<(&'static str, String), BlobError> {
        match self {
            ConfirmError::Missing => Ok(("key", "nothing was uploaded there".into())),
            ConfirmError::Size { min, max, .. } if min > 0 => {
                Ok(("file", format!("{min} to {max} bytes")))
            }
            ConfirmError::Size { max, .. } => Ok(("file", format!("at most {max} bytes"))),
            ConfirmError::Type { expected, .. } => {
                Ok(("file", format!("is not the declared type ({expected})")))
            }
            ConfirmError::Store(e) => Err(e),
        }
    }
}

/// Types whose content can be recognised by magic bytes; for others only size is checked.
fn sniffable(content_type: &str) -> bool {
    content_type.starts_with("image/")
        || content_type.starts_with("audio/")
        || content_type.starts_with("video/")
        || content_type == "application/pdf"
        || content_type == "application/zip"
}

/// Re-checks an uploaded object against its rules; deletes it when it does not match.
pub async fn confirm_upload(
    blobs: &dyn Blobs,
    key: &str,
    rules: &UploadRules,
) -> Result<Confirmed, ConfirmError> {
    let info = match blobs.head(key).await {
        Ok(info) => info,
        Err(BlobError::NotFound) => return Err(ConfirmError::Missing),
        Err(e) => return Err(ConfirmError::Store(e)),
    };
    let refuse = |err: ConfirmError| async move {
        // Best effort: a failed delete leaves an unconfirmed object that is never referenced.
        if let Err(e) = blobs.delete(key).await {
            tracing::warn!(key, error = %e, "could not delete refused upload");
        }
        Err(err)
    };
    if info.size < rules.min_bytes || info.size > rules.max_bytes {
        return refuse(ConfirmError::Size {
            size: info.size,
            min: rules.min_bytes,
            max: rules.max_bytes,
        })
        .await;
    }
    if sniffable(&rules.content_type) {
        let head = blobs
            .get_prefix(key, 512)
            .await
            .map_err(ConfirmError::Store)?;
        let detected = infer::get(&head).map(|t| t.mime_type().to_string());
        if detected.as_deref() != Some(rules.content_type.as_str()) {
            return refuse(ConfirmError::Type {
                detected,
                expected: rules.content_type.clone(),
            })
            .await;
        }
    }
    Ok(Confirmed {
        key: key.to_string(),
        size: info.size,
        content_type: rules.content_type.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_upload_names_the_field_the_client_can_fix() {
        let field = |e: ConfirmError| e.client_field().expect("the client's doing");
        assert_eq!(field(ConfirmError::Missing).0, "key");
        assert_eq!(
            field(ConfirmError::Size {
                size: 9,
                min: 0,
                max: 8
            }),
            ("file", "at most 8 bytes".to_string())
        );
        assert_eq!(
            field(ConfirmError::Type {
                detected: None,
                expected: "image/png".into()
            }),
            ("file", "is not the declared type (image/png)".to_string())
        );
        assert!(
            ConfirmError::Store(BlobError::NotFound)
                .client_field()
                .is_err(),
            "a store failure is the server's"
        );
    }
}
