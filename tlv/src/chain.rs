//! The function-name stack of a chained Interest (nfwd's extension; `docs/protocol.md`).
//!
//! `FunctionNames` (TLV-TYPE 0xE1, critical) holds one or more Name elements, head first: the
//! head is the next function to visit and the last one applied, so `F3,F2,F1` asks for
//! F3(F2(F1(content))). The same element on a Data names the chain the Data answers.
//!
//! Two chains are the same chain exactly when their encodings are equal; decoding normalises
//! the encoding, so byte equality, hashing and ordering agree.

use std::fmt;
use std::str::FromStr;

use bytes::{BufMut, Bytes, BytesMut};
use smallvec::SmallVec;

use crate::element::{Element, put_header, tlv_len};
use crate::error::{Error, Result};
use crate::name::Name;
use crate::types::tt;

/// A non-empty stack of function names, head first.
#[derive(Clone)]
pub struct FunctionChain {
    /// TLV-VALUE of the FunctionNames element: the Name elements back to back.
    value: Bytes,
    names: SmallVec<[Name; 4]>,
}

impl FunctionChain {
    /// A chain of `names`, head first. Fails if there are none or one is the empty name (a
    /// function name must be routable).
    pub fn new(names: impl IntoIterator<Item = Name>) -> Result<Self> {
        let names: SmallVec<[Name; 4]> = names.into_iter().collect();
        Self::check(&names)?;
        Ok(Self::from_names(names))
    }

    fn check(names: &[Name]) -> Result<()> {
        if names.is_empty() {
            return Err(Error::InvalidValue {
                field: "FunctionNames",
                reason: "empty stack",
            });
        }
        if names.iter().any(Name::is_empty) {
            return Err(Error::InvalidValue {
                field: "FunctionNames",
                reason: "empty function name",
            });
        }
        Ok(())
    }

    fn from_names(names: SmallVec<[Name; 4]>) -> Self {
        let mut buf = BytesMut::with_capacity(names.iter().map(Name::encoded_len).sum());
        for n in &names {
            n.encode_to(&mut buf);
        }
        Self {
            value: buf.freeze(),
            names,
        }
    }

    /// Decodes a FunctionNames element.
    pub fn decode(el: &Element) -> Result<Self> {
        if el.tlv_type() != tt::FUNCTION_NAMES {
            return Err(Error::UnexpectedType {
                expected: tt::FUNCTION_NAMES,
                found: el.tlv_type(),
            });
        }
        let mut names = SmallVec::new();
        for child in el.children() {
            let child = child?;
            if child.tlv_type() != tt::NAME {
                return Err(Error::UnexpectedType {
                    expected: tt::NAME,
                    found: child.tlv_type(),
                });
            }
            names.push(Name::from_element(&child)?);
        }
        Self::check(&names)?;
        let value = el.value_bytes();
        if names.iter().map(Name::encoded_len).sum::<usize>() != value.len() {
            // Some header was not minimal: re-encode so equal chains have equal bytes.
            return Ok(Self::from_names(names));
        }
        Ok(Self { value, names })
    }

    /// The next function to visit.
    #[must_use]
    pub fn head(&self) -> &Name {
        // `check` guarantees at least one name.
        &self.names[0]
    }

    /// All function names, head first.
    #[must_use]
    pub fn names(&self) -> &[Name] {
        &self.names
    }

    /// Number of functions in the stack (at least 1).
    #[must_use]
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Always false: an empty stack is encoded by leaving the element out.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The stack without its head, or `None` if the head was the only function. Zero-copy.
    #[must_use]
    pub fn popped(&self) -> Option<Self> {
        if self.names.len() == 1 {
            return None;
        }
        let head_len = self.names[0].encoded_len();
        Some(Self {
            value: self.value.slice(head_len..),
            names: self.names[1..].iter().cloned().collect(),
        })
    }

    /// The stack with `head` pushed on top (what an SF answers: its own name on top of the
    /// stack it received). `rest` may be `None` for a stack that was empty.
    pub fn pushed(head: Name, rest: Option<&Self>) -> Result<Self> {
        let mut names: SmallVec<[Name; 4]> = SmallVec::new();
        names.push(head);
        if let Some(rest) = rest {
            names.extend(rest.names.iter().cloned());
        }
        Self::new(names)
    }

    /// The encoded stack (TLV-VALUE). Chain identity: equal bytes, equal chain.
    #[must_use]
    pub fn value_bytes(&self) -> &Bytes {
        &self.value
    }

    /// Length of the whole FunctionNames element.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        tlv_len(tt::FUNCTION_NAMES, self.value.len())
    }

    /// Writes the whole FunctionNames element.
    pub fn encode_to(&self, buf: &mut impl BufMut) {
        put_header(buf, tt::FUNCTION_NAMES, self.value.len());
        buf.put_slice(&self.value);
    }
}

impl PartialEq for FunctionChain {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl Eq for FunctionChain {}

impl std::hash::Hash for FunctionChain {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write(&self.value);
    }
}

impl fmt::Display for FunctionChain {
    /// Text form: function names in URI form, head first, separated by commas.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, n) in self.names.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{n}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for FunctionChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FunctionChain({self})")
    }
}

impl FromStr for FunctionChain {
    type Err = Error;

    /// Parses `/sf/F3,/sf/F2,/sf/F1` (head first). A comma cannot occur unescaped inside an NDN
    /// URI, so the separator is unambiguous.
    fn from_str(s: &str) -> Result<Self> {
        let names = s
            .split(',')
            .map(|part| {
                let part = part.trim();
                if part.is_empty() {
                    Err(Error::InvalidUri(format!(
                        "empty function name in chain {s:?}"
                    )))
                } else {
                    part.parse::<Name>()
                }
            })
            .collect::<Result<SmallVec<[Name; 4]>>>()?;
        Self::new(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pop_and_push_are_inverse() {
        let c: FunctionChain = "/sf/F3,/sf/F2,/sf/F1".parse().unwrap();
        assert_eq!(c.head().to_string(), "/sf/F3");
        let p = c.popped().unwrap();
        assert_eq!(p.to_string(), "/sf/F2,/sf/F1");
        assert_eq!(
            FunctionChain::pushed(c.head().clone(), Some(&p)).unwrap(),
            c
        );
        assert!(p.popped().unwrap().popped().is_none());
    }

    #[test]
    fn decode_normalises_and_rejects_bad_stacks() {
        // FunctionNames{ Name(non-minimal length){ 8 'a' } }
        let el = Element::new(
            tt::FUNCTION_NAMES,
            &[0x07, 0xFD, 0x00, 0x03, 0x08, 0x01, b'a'],
        );
        let c = FunctionChain::decode(&el).unwrap();
        assert_eq!(c, "/a".parse().unwrap());
        assert_eq!(&c.value_bytes()[..], &[0x07, 0x03, 0x08, 0x01, b'a']);
        assert!(FunctionChain::decode(&Element::new(tt::FUNCTION_NAMES, &[])).is_err());
        assert!(FunctionChain::decode(&Element::new(tt::FUNCTION_NAMES, &[0x07, 0x00])).is_err());
        assert!(FunctionChain::decode(&Element::new(tt::FUNCTION_NAMES, &[0x08, 0x00])).is_err());
        assert!("/a,,/b".parse::<FunctionChain>().is_err());
        assert!("/".parse::<FunctionChain>().is_err());
    }
}
