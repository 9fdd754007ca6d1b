//! The code-size rule as Defender wrote it: a code bundle "must not exceed 5MB in size after
//! being compressed and base64-encoded". Defender's clients zipped the bundle (deflate) and
//! sent the zip base64-encoded; the limit applied to that text, so a bundle of compressible
//! JavaScript well over 5 MB was accepted.
//!
//! [`check_code_size`] counts the size the same way: it zips the code with deflate (the `zip`
//! crate) and takes the length of the zip's base64 encoding. (Defender's own client, `zipSources`
//! and `zipFolder` of `defender-autotask-client`, zipped with JSZip's default: stored, without
//! compression. For code that does not compress, the stored zip is counted when it is the
//! smaller, so that everything that client sent and Defender took is accepted.) Uncompressed code is bounded too
//! ([`MAX_UNCOMPRESSED_CODE_BYTES`]), so that a bundle which compresses extremely well (a zip
//! bomb) cannot make the host hold gigabytes.
//!
//! ```
//! use defender_core::{check_code_size, CodeSizeError, CodeSource, MAX_CODE_BYTES};
//!
//! // 6 MB of repetitive JavaScript: over 5 MB raw, far under it zipped and base64-encoded.
//! let line = "exports.handler = async () => 'fits';\n";
//! let big = CodeSource::Script(line.repeat(6_000_000 / line.len()));
//! let size = check_code_size(&big).unwrap();
//! assert!(size.uncompressed > MAX_CODE_BYTES && size.encoded < MAX_CODE_BYTES);
//! ```

use crate::runtime::{CodeSource, MAX_CODE_BYTES};
use std::io::{Cursor, Write};

/// Largest uncompressed code (the sum of its paths and contents, as [`CodeSource::size`]
/// counts it): ten times [`MAX_CODE_BYTES`], well beyond what minified JavaScript that fits
/// Defender's rule holds (it compresses three to five times), and small enough for the host to
/// keep and compile.
pub const MAX_UNCOMPRESSED_CODE_BYTES: usize = 10 * MAX_CODE_BYTES;

/// The sizes of a code bundle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodeSize {
    /// Paths and contents, uncompressed ([`CodeSource::size`]).
    pub uncompressed: usize,
    /// Length of the base64 encoding of the zipped bundle (deflate, or stored when that is
    /// smaller and deflate is over the limit): what Defender limited.
    pub encoded: usize,
}

/// Why code is refused for its size.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodeSizeError {
    /// Over Defender's rule: the zipped, base64-encoded bundle is over [`MAX_CODE_BYTES`].
    #[error(
        "code is {encoded} bytes after being compressed and base64-encoded ({uncompressed} bytes \
         uncompressed), over the {limit}-byte limit"
    )]
    TooLarge {
        /// Length of the base64 encoding of the zipped bundle.
        encoded: usize,
        /// Size uncompressed.
        uncompressed: usize,
        /// The limit on the encoded size ([`MAX_CODE_BYTES`]).
        limit: usize,
    },
    /// The uncompressed code is over [`MAX_UNCOMPRESSED_CODE_BYTES`] (checked before zipping).
    #[error("code is {uncompressed} bytes uncompressed, over the {limit}-byte limit")]
    UncompressedTooLarge {
        /// Size uncompressed (of a zip archive, what was inflated when it passed the limit:
        /// an archive is not inflated further).
        uncompressed: usize,
        /// The limit ([`MAX_UNCOMPRESSED_CODE_BYTES`]).
        limit: usize,
    },
    /// A zip archive given as is (Defender's `encodedZippedCode`) is over [`MAX_CODE_BYTES`]
    /// once base64-encoded.
    #[error(
        "the zip archive is {encoded} bytes base64-encoded ({archive} bytes), over the \
         {limit}-byte limit"
    )]
    ArchiveTooLarge {
        /// Length of the archive's base64 encoding.
        encoded: usize,
        /// The archive's size.
        archive: usize,
        /// The limit ([`MAX_CODE_BYTES`]).
        limit: usize,
    },
    /// Zipping the code in memory failed (a path the zip format refuses).
    #[error("the code cannot be zipped to count its size: {0}")]
    Zip(String),
}

/// Length of the standard (padded) base64 encoding of `len` bytes.
pub fn base64_len(len: usize) -> usize {
    // `None` only past usize::MAX, which no length in memory reaches; saturate rather than
    // unwrap.
    base64::encoded_len(len, true).unwrap_or(usize::MAX)
}

/// Checks a zip archive as Defender received it (`encodedZippedCode`): its base64 encoding is
/// at most [`MAX_CODE_BYTES`]. Its content is checked by whoever inflates it, against
/// [`MAX_UNCOMPRESSED_CODE_BYTES`].
pub fn check_archive_size(archive_len: usize) -> Result<usize, CodeSizeError> {
    let encoded = base64_len(archive_len);
    if encoded > MAX_CODE_BYTES {
        return Err(CodeSizeError::ArchiveTooLarge {
            encoded,
            archive: archive_len,
            limit: MAX_CODE_BYTES,
        });
    }
    Ok(encoded)
}

/// Counts the size of `code` as Defender did (zip with deflate, then base64) and checks it
/// against [`MAX_CODE_BYTES`]; the uncompressed size is checked first against
/// [`MAX_UNCOMPRESSED_CODE_BYTES`], without zipping.
///
/// Zipping takes time in proportion to the code (tens of milliseconds per megabyte): check
/// code when it is registered or replaced, not on every run.
pub fn check_code_size(code: &CodeSource) -> Result<CodeSize, CodeSizeError> {
    let uncompressed = code.size();
    if uncompressed > MAX_UNCOMPRESSED_CODE_BYTES {
        return Err(CodeSizeError::UncompressedTooLarge {
            uncompressed,
            limit: MAX_UNCOMPRESSED_CODE_BYTES,
        });
    }
    let mut encoded = base64_len(zipped_len(code, zip::CompressionMethod::Deflated)?);
    if encoded > MAX_CODE_BYTES {
        // Code that does not compress may come out smaller stored, as Defender's own client
        // zipped it (JSZip's default, no compression): whichever zip fits.
        let stored = base64_len(zipped_len(code, zip::CompressionMethod::Stored)?);
        encoded = encoded.min(stored);
    }
    if encoded > MAX_CODE_BYTES {
        return Err(CodeSizeError::TooLarge {
            encoded,
            uncompressed,
            limit: MAX_CODE_BYTES,
        });
    }
    Ok(CodeSize {
        uncompressed,
        encoded,
    })
}

/// The size of the zip of `code` made with `method`, a script being the bundle's `index.js`.
fn zipped_len(code: &CodeSource, method: zip::CompressionMethod) -> Result<usize, CodeSizeError> {
    let zip_error = |e: &dyn std::fmt::Display| CodeSizeError::Zip(e.to_string());
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(method)
        .large_file(false);
    let mut add = |name: &str, content: &[u8]| -> Result<(), CodeSizeError> {
        zip.start_file(name, options).map_err(|e| zip_error(&e))?;
        zip.write_all(content).map_err(|e| zip_error(&e))
    };
    match code {
        CodeSource::Script(script) => add("index.js", script.as_bytes())?,
        CodeSource::Bundle(files) => {
            for (name, content) in files {
                add(name, content)?;
            }
        }
    }
    let archive = zip.finish().map_err(|e| zip_error(&e))?;
    Ok(archive.get_ref().len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::collections::BTreeMap;

    /// Bytes that deflate cannot shrink (xorshift output), deterministic.
    fn noise(len: usize) -> Vec<u8> {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x.to_le_bytes()[0]
            })
            .collect()
    }

    #[test]
    fn compressible_code_over_5_mb_is_accepted() {
        let line = "exports.handler = async () => ({ ok: true }); // padding padding\n";
        let code = CodeSource::Script(line.repeat(6 * 1024 * 1024 / line.len() + 1));
        let size = check_code_size(&code).unwrap();
        assert!(size.uncompressed > MAX_CODE_BYTES);
        assert!(size.encoded < MAX_CODE_BYTES / 10, "{size:?}");
    }

    #[test]
    fn incompressible_code_over_the_limit_names_both_sizes() {
        // 4 MiB of noise: under 5 MiB raw, over it once zipped (barely shrunk) and base64'd.
        let code = CodeSource::Bundle(BTreeMap::from([
            (
                "index.js".to_owned(),
                Bytes::from("exports.handler = () => 1;"),
            ),
            ("data.bin".to_owned(), Bytes::from(noise(4 * 1024 * 1024))),
        ]));
        assert!(code.size() < MAX_CODE_BYTES);
        match check_code_size(&code) {
            Err(CodeSizeError::TooLarge {
                encoded,
                uncompressed,
                limit,
            }) => {
                assert_eq!(uncompressed, code.size());
                assert!(encoded > MAX_CODE_BYTES && encoded < 2 * MAX_CODE_BYTES);
                assert_eq!(limit, MAX_CODE_BYTES);
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
    }

    #[test]
    fn uncompressed_code_is_bounded_without_zipping() {
        let code = CodeSource::Script(" ".repeat(MAX_UNCOMPRESSED_CODE_BYTES + 1));
        assert_eq!(
            check_code_size(&code),
            Err(CodeSizeError::UncompressedTooLarge {
                uncompressed: MAX_UNCOMPRESSED_CODE_BYTES + 1,
                limit: MAX_UNCOMPRESSED_CODE_BYTES,
            })
        );
    }

    #[test]
    fn archives_are_counted_base64_encoded() {
        assert_eq!(base64_len(0), 0);
        assert_eq!(base64_len(1), 4);
        assert_eq!(base64_len(3), 4);
        assert_eq!(base64_len(4), 8);
        let largest = MAX_CODE_BYTES / 4 * 3;
        assert_eq!(check_archive_size(largest), Ok(MAX_CODE_BYTES));
        assert!(matches!(
            check_archive_size(largest + 1),
            Err(CodeSizeError::ArchiveTooLarge { encoded, archive, .. })
                if encoded == MAX_CODE_BYTES + 4 && archive == largest + 1
        ));
    }
}
