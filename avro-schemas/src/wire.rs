//! The Confluent wire format: magic byte 0, a 4-byte big-endian schema id, then Avro binary.

/// Length of the Confluent header.
pub const HEADER_LEN: usize = 5;

/// Why bytes are not a Confluent-framed record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Fewer bytes than the header.
    #[error("record of {0} bytes is shorter than the 5-byte Confluent header")]
    TooShort(usize),
    /// The first byte is not the magic 0.
    #[error("magic byte is {0:#04x}, expected 0x00 (Confluent framing)")]
    BadMagic(u8),
}

/// Splits a framed record into its schema id and Avro body.
pub fn split(bytes: &[u8]) -> Result<(u32, &[u8]), FrameError> {
    if bytes.len() < HEADER_LEN {
        return Err(FrameError::TooShort(bytes.len()));
    }
    if bytes[0] != 0 {
        return Err(FrameError::BadMagic(bytes[0]));
    }
    let id = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
    Ok((id, &bytes[HEADER_LEN..]))
}

/// Writes the header for `id` at the start of `out`.
pub fn write_header(out: &mut Vec<u8>, id: u32) {
    out.push(0);
    out.extend_from_slice(&id.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips() {
        let mut v = Vec::new();
        write_header(&mut v, 0x0102_0304);
        v.extend_from_slice(b"body");
        assert_eq!(split(&v), Ok((0x0102_0304, &b"body"[..])));
    }

    #[test]
    fn short_or_unframed_bytes_are_refused() {
        assert_eq!(split(b"\0\0"), Err(FrameError::TooShort(2)));
        assert_eq!(split(b"{\"a\":1}"), Err(FrameError::BadMagic(b'{')));
    }
}
