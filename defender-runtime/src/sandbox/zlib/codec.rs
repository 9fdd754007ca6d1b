//! One zlib stream of Node's `zlib` modes on `flate2` (the zlib-rs backend): its state and
//! its output charged to the run's budget, the output bounded, the work stopped when asked.

use crate::alloc::{Budget, Charge};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// Most bytes one call produces, whatever the caller's `maxOutputLength` (the run's memory
/// limit is usually reached first).
pub(super) const MAX_OUTPUT: usize = 1 << 30;

/// The output grows by this much at a time (each step charged to the run first).
const OUTPUT_STEP: usize = 64 * 1024;

/// What an inflate state holds (its 32 KiB window and tables), charged to the run.
const INFLATE_BYTES: usize = 48 * 1024;

/// What a deflate state holds (window, hash chains and buffers at zlib's defaults).
const DEFLATE_BYTES: usize = 288 * 1024;

/// zlib's window size (`windowBits`), the most Node accepts and its default.
const WINDOW_BITS: u8 = 15;

/// What a stream does, numbered as Node's `zlib.constants` (`DEFLATE` = 1 ... `UNZIP` = 7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    Deflate,
    Inflate,
    Gzip,
    Gunzip,
    DeflateRaw,
    InflateRaw,
    Unzip,
}

impl Mode {
    pub(super) fn from_number(n: f64) -> Option<Mode> {
        Some(match n {
            1.0 => Mode::Deflate,
            2.0 => Mode::Inflate,
            3.0 => Mode::Gzip,
            4.0 => Mode::Gunzip,
            5.0 => Mode::DeflateRaw,
            6.0 => Mode::InflateRaw,
            7.0 => Mode::Unzip,
            _ => return None,
        })
    }
}

/// A failure, as Node's `zlib` reports it (js/node_zlib.js makes the error).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ZlibError {
    /// zlib's error: Node's `code`, `errno` and zlib's message.
    Zlib {
        code: &'static str,
        errno: i32,
        message: String,
    },
    /// The output would pass the caller's `maxOutputLength` (or [`MAX_OUTPUT`]).
    TooLarge(usize),
    /// The run's budget could not hold the output.
    OutOfMemory,
    /// The run's deadline passed.
    Interrupted,
}

impl ZlibError {
    fn data(message: impl Into<String>) -> Self {
        ZlibError::Zlib {
            code: "Z_DATA_ERROR",
            errno: -3,
            message: message.into(),
        }
    }

    fn end_of_file() -> Self {
        ZlibError::Zlib {
            code: "Z_BUF_ERROR",
            errno: -5,
            message: "unexpected end of file".into(),
        }
    }
}

/// The compressor or decompressor of a stream.
enum Engine {
    Deflate(Box<Compress>),
    Inflate(Box<Decompress>),
    /// `unzip` before its first two bytes tell gzip from zlib.
    Undecided,
}

/// One zlib stream: its engine and what it costs the run.
pub(in crate::sandbox) struct Codec {
    mode: Mode,
    engine: Engine,
    /// Input held until `unzip` can tell the format (at most one byte).
    pending: Vec<u8>,
    /// The stream ended (`Z_STREAM_END` without more input to decode): later input is
    /// ignored, as by Node.
    ended: bool,
    /// The engine's state, charged to the run.
    charge: Charge,
}

impl Codec {
    /// A stream for `mode` at compression `level` (-1: zlib's default, 0 to 9), charged to
    /// `budget`; `None` when the budget cannot hold it.
    pub(super) fn new(mode: Mode, level: i32, budget: &Budget) -> Option<Codec> {
        let level = match u32::try_from(level) {
            Ok(l) => Compression::new(l.min(9)),
            Err(_) => Compression::default(),
        };
        let engine = match mode {
            Mode::Deflate => Engine::Deflate(Box::new(Compress::new(level, true))),
            Mode::DeflateRaw => Engine::Deflate(Box::new(Compress::new(level, false))),
            Mode::Gzip => Engine::Deflate(Box::new(Compress::new_gzip(level, WINDOW_BITS))),
            Mode::Inflate => Engine::Inflate(Box::new(Decompress::new(true))),
            Mode::InflateRaw => Engine::Inflate(Box::new(Decompress::new(false))),
            Mode::Gunzip => Engine::Inflate(Box::new(Decompress::new_gzip(WINDOW_BITS))),
            Mode::Unzip => Engine::Undecided,
        };
        let held = match engine {
            Engine::Deflate(_) => DEFLATE_BYTES,
            _ => INFLATE_BYTES,
        };
        Some(Codec {
            mode,
            engine,
            pending: Vec::new(),
            ended: false,
            charge: Charge::of(budget, held)?,
        })
    }

    /// Feeds `input`; with `finish`, the stream ends (a decompressor's input must be
    /// complete). `flush` asks a compressor for what it has so far (`Z_SYNC_FLUSH`). The
    /// output, at most `max_out` bytes; `stop` is asked now and then whether to give up.
    pub(super) fn process(
        &mut self,
        input: &[u8],
        flush: bool,
        finish: bool,
        max_out: usize,
        stop: &mut dyn FnMut() -> bool,
    ) -> Result<Vec<u8>, ZlibError> {
        let mut out = Output::new(self.charge.budget(), max_out);
        let held;
        let mut input = input;
        if matches!(self.engine, Engine::Undecided) {
            held = [std::mem::take(&mut self.pending).as_slice(), input].concat();
            input = &held;
            match input {
                [0x1f, 0x8b, ..] => {
                    self.mode = Mode::Gunzip;
                    self.engine = Engine::Inflate(Box::new(Decompress::new_gzip(WINDOW_BITS)));
                }
                [0x1f] if !finish => {
                    self.pending = input.to_vec();
                    return Ok(Vec::new());
                }
                [] if !finish => return Ok(Vec::new()),
                _ => self.engine = Engine::Inflate(Box::new(Decompress::new(true))),
            }
        }
        match &mut self.engine {
            Engine::Deflate(c) => deflate(c, input, flush, finish, &mut out, stop)?,
            Engine::Inflate(d) => {
                let gzip = self.mode == Mode::Gunzip;
                if !self.ended {
                    self.ended = inflate(d, gzip, input, &mut out, stop)?;
                }
                if finish && !self.ended {
                    return Err(ZlibError::end_of_file());
                }
            }
            Engine::Undecided => {}
        }
        // The output may have filled the one byte of room past the bound.
        if out.bytes.len() > out.max {
            return Err(ZlibError::TooLarge(out.max));
        }
        Ok(out.into_bytes())
    }
}

/// An output buffer charged to the run as it grows, and bounded.
struct Output {
    bytes: Vec<u8>,
    /// The room reserved in `bytes`, charged to the run.
    charge: Charge,
    max: usize,
}

impl Output {
    fn new(budget: &Budget, max: usize) -> Self {
        Output {
            bytes: Vec::new(),
            charge: Charge::new(budget),
            max: max.min(MAX_OUTPUT),
        }
    }

    /// Makes room for more output; an error when it would pass the bound (once the bound
    /// is full, one more byte of room shows that the output goes on) or the budget.
    fn grow(&mut self) -> Result<(), ZlibError> {
        if self.bytes.len() > self.max {
            return Err(ZlibError::TooLarge(self.max));
        }
        let step = OUTPUT_STEP.min(self.max.saturating_add(1) - self.bytes.len());
        if !self.charge.add(step) {
            return Err(ZlibError::OutOfMemory);
        }
        self.bytes.reserve_exact(step);
        Ok(())
    }

    fn full(&self) -> bool {
        self.bytes.len() == self.bytes.capacity()
    }

    fn into_bytes(mut self) -> Vec<u8> {
        std::mem::take(&mut self.bytes)
    }
}

/// Decompresses `input` into `out`; whether the stream ended. After the end of a gzip
/// member, more input that does not start with a zero byte is another member (as Node reads
/// it); after the end of any other stream, the rest of the input is ignored.
fn inflate(
    d: &mut Decompress,
    gzip: bool,
    mut input: &[u8],
    out: &mut Output,
    stop: &mut dyn FnMut() -> bool,
) -> Result<bool, ZlibError> {
    loop {
        if stop() {
            return Err(ZlibError::Interrupted);
        }
        if out.full() {
            out.grow()?;
        }
        let (in_before, out_before) = (d.total_in(), d.total_out());
        let status = d
            .decompress_vec(input, &mut out.bytes, FlushDecompress::None)
            .map_err(|e| {
                if e.needs_dictionary().is_some() {
                    ZlibError::Zlib {
                        code: "Z_NEED_DICT",
                        errno: 2,
                        message: "Missing dictionary".into(),
                    }
                } else {
                    ZlibError::data(e.message().unwrap_or("invalid input"))
                }
            })?;
        let consumed = usize::try_from(d.total_in() - in_before).unwrap_or(input.len());
        input = input.get(consumed..).unwrap_or_default();
        let produced = d.total_out() != out_before;
        match status {
            Status::StreamEnd => {
                if gzip && input.first().is_some_and(|&b| b != 0) {
                    *d = Decompress::new_gzip(WINDOW_BITS);
                    continue;
                }
                return Ok(true);
            }
            // Out of input (or of room: then the output grows and the loop goes on).
            _ if !out.full() && (input.is_empty() || (consumed == 0 && !produced)) => {
                return Ok(false)
            }
            _ => {}
        }
    }
}

/// Compresses `input` into `out`, flushing or finishing the stream when asked.
fn deflate(
    c: &mut Compress,
    mut input: &[u8],
    flush: bool,
    finish: bool,
    out: &mut Output,
    stop: &mut dyn FnMut() -> bool,
) -> Result<(), ZlibError> {
    let mode = if finish {
        FlushCompress::Finish
    } else if flush {
        FlushCompress::Sync
    } else {
        FlushCompress::None
    };
    loop {
        if stop() {
            return Err(ZlibError::Interrupted);
        }
        if out.full() {
            out.grow()?;
        }
        let in_before = c.total_in();
        let status = c
            .compress_vec(input, &mut out.bytes, mode)
            .map_err(|e| ZlibError::Zlib {
                code: "Z_STREAM_ERROR",
                errno: -2,
                message: e.message().unwrap_or("compression failed").to_owned(),
            })?;
        let consumed = usize::try_from(c.total_in() - in_before).unwrap_or(input.len());
        input = input.get(consumed..).unwrap_or_default();
        match status {
            Status::StreamEnd => return Ok(()),
            // Without `finish`, done once the input is taken and the output has room left
            // (zlib filled what it could).
            _ if !finish && input.is_empty() && !out.full() => return Ok(()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alloc::Heap;
    use std::io::Write;
    use std::sync::Arc;

    fn budget(limit: usize) -> Budget {
        Arc::new(Heap::default()).start_run(limit)
    }

    fn run(mode: Mode, input: &[u8], max: usize, b: &Budget) -> Result<Vec<u8>, ZlibError> {
        Codec::new(mode, -1, b)
            .expect("fits")
            .process(input, false, true, max, &mut || false)
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(bytes).expect("in memory");
        e.finish().expect("in memory")
    }

    #[test]
    fn round_trips_in_every_format() {
        let b = budget(1 << 28);
        let text = b"hello hello hello hello".repeat(1000);
        for (enc, dec) in [
            (Mode::Gzip, Mode::Gunzip),
            (Mode::Gzip, Mode::Unzip),
            (Mode::Deflate, Mode::Inflate),
            (Mode::Deflate, Mode::Unzip),
            (Mode::DeflateRaw, Mode::InflateRaw),
        ] {
            let packed = run(enc, &text, MAX_OUTPUT, &b).expect("compresses");
            assert!(packed.len() < text.len() / 10, "{enc:?}");
            assert_eq!(run(dec, &packed, MAX_OUTPUT, &b).as_deref(), Ok(&text[..]));
        }
        // Two gzip members are read as one stream; zero bytes after the end are ignored.
        let two = [gzip(b"ab"), gzip(b"cd"), vec![0, 0]].concat();
        assert_eq!(
            run(Mode::Gunzip, &two, MAX_OUTPUT, &b).as_deref(),
            Ok(&b"abcd"[..])
        );
    }

    #[test]
    fn streams_decode_chunk_by_chunk() {
        let b = budget(1 << 28);
        let text = b"0123456789".repeat(10_000);
        let packed = gzip(&text);
        let mut codec = Codec::new(Mode::Unzip, -1, &b).expect("fits");
        let mut out = Vec::new();
        for chunk in packed.chunks(1) {
            out.extend(
                codec
                    .process(chunk, false, false, MAX_OUTPUT, &mut || false)
                    .expect("decodes"),
            );
        }
        out.extend(
            codec
                .process(&[], false, true, MAX_OUTPUT, &mut || false)
                .expect("ends"),
        );
        assert_eq!(out, text);
    }

    #[test]
    fn bad_input_fails_as_zlib_does() {
        let b = budget(1 << 28);
        assert_eq!(
            run(Mode::Gunzip, b"hello world", MAX_OUTPUT, &b),
            Err(ZlibError::data("incorrect header check"))
        );
        assert_eq!(
            run(Mode::Inflate, b"hello world", MAX_OUTPUT, &b),
            Err(ZlibError::data("incorrect header check"))
        );
        let packed = gzip(&[7; 1000]);
        assert_eq!(
            run(Mode::Gunzip, &packed[..20], MAX_OUTPUT, &b),
            Err(ZlibError::end_of_file())
        );
        assert_eq!(
            run(Mode::Gunzip, b"", MAX_OUTPUT, &b),
            Err(ZlibError::end_of_file())
        );
    }

    #[test]
    fn output_is_bounded_and_charged() {
        let bomb = gzip(&vec![0; 64 << 20]);
        let b = budget(1 << 30);
        assert_eq!(
            run(Mode::Gunzip, &bomb, 1000, &b),
            Err(ZlibError::TooLarge(1000))
        );
        assert_eq!(
            run(Mode::Gunzip, &bomb, 1000, &b).err(),
            Some(ZlibError::TooLarge(1000))
        );
        let small = budget(8 << 20);
        assert_eq!(
            run(Mode::Gunzip, &bomb, MAX_OUTPUT, &small),
            Err(ZlibError::OutOfMemory)
        );
        // Exactly the bound fits.
        assert_eq!(
            run(Mode::Gunzip, &gzip(&[1; 1000]), 1000, &b).map(|v| v.len()),
            Ok(1000)
        );
        let mut asked = 0;
        let stopped = Codec::new(Mode::Gunzip, -1, &b).expect("fits").process(
            &bomb,
            false,
            true,
            MAX_OUTPUT,
            &mut || {
                asked += 1;
                asked > 3
            },
        );
        assert_eq!(stopped, Err(ZlibError::Interrupted));
    }
}
