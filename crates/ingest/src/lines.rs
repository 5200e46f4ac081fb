//! A line reader that never holds more than a bounded line in memory: an over-long line is
//! reported and skipped, not loaded.

use std::io::{self, BufRead};

/// One physical line, or why it could not be read.
#[derive(Debug)]
pub(crate) enum Line {
    /// The line's bytes, without the line break.
    Ok(Vec<u8>),
    /// The line was longer than the limit; its length in bytes.
    TooLong(u64),
}

/// Reads lines of at most `max` bytes from `r`.
pub(crate) struct BoundedLines<R> {
    r: R,
    max: usize,
    done: bool,
}

impl<R: BufRead> BoundedLines<R> {
    pub(crate) fn new(r: R, max: usize) -> Self {
        BoundedLines { r, max, done: false }
    }

    /// The next line, `None` at the end of input.
    pub(crate) fn next_line(&mut self) -> io::Result<Option<Line>> {
        if self.done {
            return Ok(None);
        }
        let mut buf = Vec::new();
        let mut len: u64 = 0;
        let mut too_long = false;
        loop {
            let chunk = match self.r.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                self.done = true;
                if len == 0 {
                    return Ok(None);
                }
                break;
            }
            let (part, found) = match memchr(chunk) {
                Some(p) => (&chunk[..p], true),
                None => (chunk, false),
            };
            len += part.len() as u64;
            if !too_long {
                if buf.len() + part.len() > self.max {
                    too_long = true;
                    buf = Vec::new();
                } else {
                    buf.extend_from_slice(part);
                }
            }
            let consumed = part.len() + usize::from(found);
            self.r.consume(consumed);
            if found {
                break;
            }
        }
        if too_long {
            return Ok(Some(Line::TooLong(len)));
        }
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        Ok(Some(Line::Ok(buf)))
    }
}

fn memchr(s: &[u8]) -> Option<usize> {
    s.iter().position(|&b| b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_skipped_not_loaded() {
        let mut data = b"short\r\n".to_vec();
        data.extend(std::iter::repeat_n(b'x', 10_000));
        data.extend_from_slice(b"\nafter\nlast-no-newline");
        let mut r = BoundedLines::new(std::io::BufReader::with_capacity(64, &data[..]), 100);
        let mut got = Vec::new();
        while let Some(l) = r.next_line().unwrap() {
            got.push(match l {
                Line::Ok(b) => String::from_utf8(b).unwrap(),
                Line::TooLong(n) => format!("too long {n}"),
            });
        }
        assert_eq!(got, vec!["short", "too long 10000", "after", "last-no-newline"]);
    }
}
