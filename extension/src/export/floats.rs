//! Floats printed by PostgreSQL's own shortest-digits routine (src/common/d2s.c, f2s.c), the
//! one `float8out`/`float4out` use when extra_float_digits > 0, called directly on the datum's
//! value: no text datum per field. Not the reference Ryu (the `ryu` crate): PostgreSQL builds
//! it without STRICTLY_SHORTEST, so a value exactly on a rounding boundary gets one more digit
//! (1e23 prints as 9.999999999999999e+22), and the export must print what PostgreSQL prints.

use std::ffi::{c_char, c_int};

// Exported by the postgres binary (src/common is linked into it); pgrx has no bindings for
// them. Pure functions of their argument: no allocation, no ERROR, no global state.
unsafe extern "C" {
    fn double_to_shortest_decimal_bufn(f: f64, result: *mut c_char) -> c_int;
    fn float_to_shortest_decimal_bufn(f: f32, result: *mut c_char) -> c_int;
}

/// Longer than DOUBLE_SHORTEST_DECIMAL_LEN (25) and FLOAT_SHORTEST_DECIMAL_LEN (16).
const BUFFER: usize = 32;

/// `float8out`'s text of `value`.
pub fn float8(out: &mut Vec<u8>, value: f64) {
    let special = not_finite(value.is_nan(), value.is_infinite(), value.is_sign_negative());
    // SAFETY: the buffer holds more than the 24 bytes the function writes at most.
    shortest(out, special, |buffer| unsafe { double_to_shortest_decimal_bufn(value, buffer) });
}

/// `float4out`'s text of `value`.
pub fn float4(out: &mut Vec<u8>, value: f32) {
    let special = not_finite(value.is_nan(), value.is_infinite(), value.is_sign_negative());
    // SAFETY: as above (at most 15 bytes).
    shortest(out, special, |buffer| unsafe { float_to_shortest_decimal_bufn(value, buffer) });
}

/// Appends `special`, or what `write` puts into a buffer of [`BUFFER`] bytes (it returns how
/// many it wrote).
fn shortest(out: &mut Vec<u8>, special: Option<&[u8]>, write: impl FnOnce(*mut c_char) -> c_int) {
    if let Some(text) = special {
        return out.extend_from_slice(text);
    }
    let mut buffer = [0u8; BUFFER];
    let len = write(buffer.as_mut_ptr().cast());
    out.extend_from_slice(&buffer[..usize::try_from(len).unwrap_or(0).min(BUFFER)]);
}

/// What float8out/float4out print before they reach Ryu.
fn not_finite(nan: bool, infinite: bool, negative: bool) -> Option<&'static [u8]> {
    match (nan, infinite, negative) {
        (true, _, _) => Some(b"NaN"),
        (false, true, true) => Some(b"-Infinity"),
        (false, true, false) => Some(b"Infinity"),
        _ => None,
    }
}
