//! Several optional strings in one allocation: what a compact store ([`super::kept`]) keeps of
//! an object's own strings (its name, resourceVersion, uid and annotation values) costs one heap
//! block instead of one per string. Each string is its length plus one (0: absent) as a LEB128
//! number, then its bytes.

/// Optional strings, packed; read back in the order they were packed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Packed(Box<[u8]>);

impl Packed {
    /// `parts`, in order.
    pub(crate) fn new<'a>(parts: impl IntoIterator<Item = Option<&'a str>>) -> Self {
        let mut bytes = Vec::new();
        for part in parts {
            match part {
                None => put_number(&mut bytes, 0),
                Some(text) => {
                    put_number(&mut bytes, text.len() + 1);
                    bytes.extend_from_slice(text.as_bytes());
                }
            }
        }
        Packed(bytes.into_boxed_slice())
    }

    /// The strings, in the order they were packed.
    pub(crate) fn parts(&self) -> Parts<'_> {
        Parts { rest: &self.0 }
    }

    /// The first string, or "" (a store packs the name first, and every object has one).
    pub(crate) fn first(&self) -> &str {
        self.parts().next().flatten().unwrap_or_default()
    }
}

/// The strings of a [`Packed`], in order.
pub(crate) struct Parts<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Parts<'a> {
    type Item = Option<&'a str>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let (number, rest) = take_number(self.rest);
        let Some(len) = number.checked_sub(1) else {
            self.rest = rest;
            return Some(None);
        };
        let (text, rest) = rest.split_at(len.min(rest.len()));
        self.rest = rest;
        // The bytes were a `&str` when packed, so they are UTF-8.
        Some(Some(std::str::from_utf8(text).unwrap_or_default()))
    }
}

fn put_number(bytes: &mut Vec<u8>, mut number: usize) {
    loop {
        let low = (number & 0x7f) as u8;
        number >>= 7;
        if number == 0 {
            bytes.push(low);
            return;
        }
        bytes.push(low | 0x80);
    }
}

fn take_number(bytes: &[u8]) -> (usize, &[u8]) {
    let mut number = 0usize;
    for (at, byte) in bytes.iter().enumerate() {
        number |= usize::from(byte & 0x7f) << (7 * at);
        if byte & 0x80 == 0 {
            return (number, &bytes[at + 1..]);
        }
    }
    (number, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_come_back_in_order_absent_and_empty_apart() {
        let long = "ü".repeat(300);
        let parts = [Some("api"), None, Some(""), Some(long.as_str()), Some("7")];
        let packed = Packed::new(parts);
        assert_eq!(packed.parts().collect::<Vec<_>>(), parts);
        assert_eq!(packed.first(), "api");
    }

    #[test]
    fn one_allocation_holds_what_the_strings_need() {
        let packed = Packed::new([Some("db"), Some("1234567"), None]);
        // Three lengths of one byte each, and the bytes.
        assert_eq!(packed.0.len(), 3 + 2 + 7);
        assert_eq!(Packed::new([]).parts().count(), 0);
        assert_eq!(Packed::new([]).first(), "");
    }

    #[test]
    fn lengths_over_one_byte_are_kept_whole() {
        for len in [126, 127, 128, 16_383, 16_384, 300_000] {
            let text = "x".repeat(len);
            let packed = Packed::new([Some(text.as_str()), Some("end")]);
            let parts: Vec<_> = packed.parts().collect();
            assert_eq!(parts, [Some(text.as_str()), Some("end")], "length {len}");
        }
    }
}
