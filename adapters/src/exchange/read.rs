//! Reading an envelope as a stream of records.

use std::io::{BufRead, BufReader, Read};

use encoding_rs::{Encoding, GB18030, GBK, UTF_8};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::tags::{self, attr};
use super::{ExchangeError, Header, Limits};
use crate::records::{Act, Party, PayloadDigest, TraceRecord, TracedProduct};

/// An element's name and attributes.
type Element = (String, Vec<(String, String)>);

/// The events the envelope needs, owned.
enum Ev {
    Start(Element),
    Empty(Element),
    End(String),
    Text(String),
    Eof,
}

/// The encoding an XML declaration at the start of `head` names, if any.
fn declared_encoding(head: &[u8]) -> Option<String> {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let end = head.windows(2).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(head.get(..end)?).ok()?;
    if !decl.starts_with("<?xml") {
        return None;
    }
    let rest = &decl[decl.find("encoding")? + "encoding".len()..];
    let rest = rest.trim_start().strip_prefix('=')?.trim_start();
    let quote = rest.chars().next()?;
    let value = rest.get(1..)?;
    Some(value[..value.find(quote)?].to_owned())
}

/// The input as UTF-8: as it is, or decoded from the GB18030/GBK/GB2312 its declaration names.
fn utf8_input(input: Box<dyn Read>) -> Result<Box<dyn BufRead>, ExchangeError> {
    let mut r = BufReader::with_capacity(64 * 1024, input);
    let head = r.fill_buf().map_err(|e| ExchangeError::Io(e.to_string()))?;
    let Some(label) = declared_encoding(&head[..head.len().min(1024)]) else {
        return Ok(Box::new(r));
    };
    match Encoding::for_label(label.trim().as_bytes()) {
        Some(enc) if enc == UTF_8 => Ok(Box::new(r)),
        Some(enc) if enc == GBK || enc == GB18030 => {
            let decoded = encoding_rs_io::DecodeReaderBytesBuilder::new().encoding(Some(enc)).build(r);
            Ok(Box::new(BufReader::with_capacity(64 * 1024, decoded)))
        }
        _ => Err(ExchangeError::Encoding(label)),
    }
}

/// Reads an envelope: the header at once, then records one at a time.
pub struct EnvelopeReader {
    xml: Reader<Box<dyn BufRead>>,
    buf: Vec<u8>,
    header: Header,
    limits: Limits,
    depth: usize,
    digest: Option<PayloadDigest>,
    signature: Option<String>,
    finished: bool,
}

impl EnvelopeReader {
    /// Opens an envelope and reads its header.
    pub fn open(input: impl Read + 'static, limits: Limits) -> Result<EnvelopeReader, ExchangeError> {
        let mut xml = Reader::from_reader(utf8_input(Box::new(input))?);
        xml.config_mut().trim_text(true);
        let mut reader = EnvelopeReader {
            xml,
            buf: Vec::new(),
            header: Header::default(),
            limits,
            depth: 0,
            digest: Some(PayloadDigest::default()),
            signature: None,
            finished: false,
        };
        reader.expect_start(tags::EXCHANGE)?;
        reader.expect_start(tags::HEADER)?;
        reader.read_header()?;
        match reader.next()? {
            Ev::Start((name, _)) if name == tags::BODY => {}
            Ev::Empty((name, _)) if name == tags::BODY => reader.finish()?,
            other => return Err(unexpected(other, tags::BODY)),
        }
        Ok(reader)
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The signature, once the body has been read, if the envelope carries one.
    pub fn signature(&self) -> Option<&str> {
        self.signature.as_deref()
    }

    /// The next record; `Ok(None)` once the body has ended and its count and digest match
    /// the header.
    pub fn next_record(&mut self) -> Result<Option<TraceRecord>, ExchangeError> {
        if self.finished {
            return Ok(None);
        }
        match self.next()? {
            Ev::Start((name, attrs)) if name == tags::TRACE_RECORD => {
                let record = self.read_record(&attrs)?;
                let digest = self.digest.get_or_insert_with(PayloadDigest::default);
                digest.add(&record);
                if digest.count() > self.limits.max_records {
                    return Err(ExchangeError::TooManyRecords(self.limits.max_records));
                }
                Ok(Some(record))
            }
            Ev::End(name) if name == tags::BODY => {
                self.finish()?;
                Ok(None)
            }
            other => Err(unexpected(other, tags::TRACE_RECORD)),
        }
    }

    fn position(&self) -> u64 {
        self.xml.buffer_position()
    }

    fn malformed(&self, e: impl std::fmt::Display) -> ExchangeError {
        ExchangeError::Malformed { position: self.position(), message: e.to_string() }
    }

    fn element(&self, e: &BytesStart) -> Result<Element, ExchangeError> {
        let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
        let mut attrs = Vec::new();
        for a in e.attributes().with_checks(true) {
            let a = a.map_err(|err| self.malformed(err))?;
            if attrs.len() >= self.limits.max_attributes {
                return Err(ExchangeError::TooManyAttributes(name));
            }
            let key = String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned();
            let value = a.unescape_value().map_err(|err| self.malformed(err))?;
            if value.chars().count() > self.limits.max_text {
                return Err(ExchangeError::TextTooLong(format!("{name}@{key}")));
            }
            attrs.push((key, value.into_owned()));
        }
        Ok((name, attrs))
    }

    fn next(&mut self) -> Result<Ev, ExchangeError> {
        loop {
            self.buf.clear();
            let event = match self.xml.read_event_into(&mut self.buf) {
                Ok(e) => e.into_owned(),
                Err(e) => return Err(self.malformed(e)),
            };
            return Ok(match event {
                Event::Start(e) => {
                    self.depth += 1;
                    if self.depth > self.limits.max_depth {
                        return Err(ExchangeError::TooDeep(self.limits.max_depth));
                    }
                    Ev::Start(self.element(&e)?)
                }
                Event::Empty(e) => {
                    if self.depth + 1 > self.limits.max_depth {
                        return Err(ExchangeError::TooDeep(self.limits.max_depth));
                    }
                    Ev::Empty(self.element(&e)?)
                }
                Event::End(e) => {
                    self.depth = self.depth.saturating_sub(1);
                    Ev::End(String::from_utf8_lossy(e.local_name().as_ref()).into_owned())
                }
                Event::Text(t) => {
                    let text = t.unescape().map_err(|err| self.malformed(err))?;
                    if text.chars().count() > self.limits.max_text {
                        return Err(ExchangeError::TextTooLong("text".into()));
                    }
                    Ev::Text(text.into_owned())
                }
                Event::CData(t) => {
                    let text = String::from_utf8_lossy(&t.into_inner()).into_owned();
                    if text.chars().count() > self.limits.max_text {
                        return Err(ExchangeError::TextTooLong("text".into()));
                    }
                    Ev::Text(text)
                }
                Event::DocType(_) => return Err(ExchangeError::Doctype),
                Event::Eof => Ev::Eof,
                _ => continue, // declaration, comments, processing instructions
            });
        }
    }

    fn expect_start(&mut self, name: &str) -> Result<(), ExchangeError> {
        match self.next()? {
            Ev::Start((found, _)) if found == name => Ok(()),
            other => Err(unexpected(other, name)),
        }
    }

    /// The text of element `name`, whose start was just read.
    fn text_of(&mut self, name: &str) -> Result<String, ExchangeError> {
        let mut text = String::new();
        loop {
            match self.next()? {
                Ev::Text(t) => text.push_str(&t),
                Ev::End(found) if found == name => return Ok(text),
                other => return Err(unexpected(other, &format!("/{name}"))),
            }
        }
    }

    fn read_header(&mut self) -> Result<(), ExchangeError> {
        let mut count = String::new();
        loop {
            let (name, value) = match self.next()? {
                Ev::Start((name, _)) => {
                    let value = self.text_of(&name)?;
                    (name, value)
                }
                Ev::Empty((name, _)) => (name, String::new()),
                Ev::End(name) if name == tags::HEADER => break,
                other => return Err(unexpected(other, tags::HEADER)),
            };
            let h = &mut self.header;
            match name.as_str() {
                tags::SENDER => h.sender = value,
                tags::RECEIVER => h.receiver = value,
                tags::MESSAGE_ID => h.message_id = value,
                tags::CORRELATION_ID => h.correlation_id = value,
                tags::OPERATION => h.operation = value,
                tags::CREATED => h.created = value,
                tags::RESOURCE_TYPE => h.resource_type = value,
                tags::RECORD_COUNT => count = value,
                tags::PAYLOAD_DIGEST => h.payload_digest = value,
                _ => return Err(ExchangeError::Unexpected { found: name, expected: tags::HEADER.into() }),
            }
        }
        for (field, value) in [
            (tags::SENDER, &self.header.sender),
            (tags::MESSAGE_ID, &self.header.message_id),
            (tags::OPERATION, &self.header.operation),
            (tags::RESOURCE_TYPE, &self.header.resource_type),
            (tags::RECORD_COUNT, &count),
            (tags::PAYLOAD_DIGEST, &self.header.payload_digest),
        ] {
            if value.trim().is_empty() {
                return Err(ExchangeError::Missing(field.into()));
            }
        }
        self.header.record_count = count
            .trim()
            .parse()
            .map_err(|_| ExchangeError::Number { field: tags::RECORD_COUNT.into(), value: count.clone() })?;
        Ok(())
    }

    /// The attributes of the next child element of a record (`name`), empty or with an end.
    fn child(&mut self, name: &str) -> Result<Vec<(String, String)>, ExchangeError> {
        match self.next()? {
            Ev::Empty((found, attrs)) if found == name => Ok(attrs),
            Ev::Start((found, attrs)) if found == name => match self.next()? {
                Ev::End(end) if end == name => Ok(attrs),
                other => Err(unexpected(other, &format!("/{name}"))),
            },
            other => Err(unexpected(other, name)),
        }
    }

    fn read_record(&mut self, attrs: &[(String, String)]) -> Result<TraceRecord, ExchangeError> {
        let id = get(attrs, attr::ID);
        if id.is_empty() {
            return Err(ExchangeError::Missing(format!("{}@{}", tags::TRACE_RECORD, attr::ID)));
        }
        let corrects = Some(get(attrs, attr::CORRECTS)).filter(|c| !c.is_empty());
        let party = |a: &[(String, String)]| Party {
            code: get(a, attr::CODE),
            name: get(a, attr::NAME),
            region: get(a, attr::REGION),
        };
        let from = party(&self.child(tags::FROM)?);
        let to = party(&self.child(tags::TO)?);
        let p = self.child(tags::PRODUCT)?;
        let product = TracedProduct {
            trace_code: get(&p, attr::TRACE_CODE),
            scheme: get(&p, attr::SCHEME),
            name: get(&p, attr::NAME),
            category: get(&p, attr::CATEGORY),
            specification: get(&p, attr::SPECIFICATION),
            batch: get(&p, attr::BATCH),
            production_date: Some(get(&p, attr::PRODUCTION_DATE)).filter(|d| !d.is_empty()),
            shelf_life_days: optional_number(&p, attr::SHELF_LIFE_DAYS)?,
            origin: get(&p, attr::ORIGIN),
        };
        let a = self.child(tags::ACT)?;
        let act = Act {
            stage: get(&a, attr::STAGE),
            direction: get(&a, attr::DIRECTION),
            quantity: optional_number(&a, attr::QUANTITY)?
                .ok_or_else(|| ExchangeError::Missing(format!("{}@{}", tags::ACT, attr::QUANTITY)))?,
            unit: get(&a, attr::UNIT),
            price: optional_number(&a, attr::PRICE)?,
            amount: optional_number(&a, attr::AMOUNT)?,
            time: get(&a, attr::TIME),
            place: get(&a, attr::PLACE),
            voucher: get(&a, attr::VOUCHER),
        };
        match self.next()? {
            Ev::End(name) if name == tags::TRACE_RECORD => {}
            other => return Err(unexpected(other, &format!("/{}", tags::TRACE_RECORD))),
        }
        Ok(TraceRecord { id, corrects, retraction: false, from, to, product, act })
    }

    /// Reads what follows the body and checks the count and digest.
    fn finish(&mut self) -> Result<(), ExchangeError> {
        loop {
            match self.next()? {
                Ev::Start((name, _)) if name == tags::SIGNATURE => self.signature = Some(self.text_of(&name)?),
                Ev::End(name) if name == tags::EXCHANGE => {}
                Ev::Eof => break,
                other => return Err(unexpected(other, tags::SIGNATURE)),
            }
        }
        self.finished = true;
        let digest = self.digest.take().unwrap_or_default();
        if digest.count() != self.header.record_count {
            return Err(ExchangeError::CountMismatch { declared: self.header.record_count, found: digest.count() });
        }
        if let Err((expected, first)) = digest.check(&self.header.payload_digest) {
            let first: String = first.unwrap_or_default().chars().take(1000).collect();
            return Err(ExchangeError::DigestMismatch { expected, first });
        }
        Ok(())
    }
}

fn get(attrs: &[(String, String)], key: &str) -> String {
    attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v.trim().to_owned()).unwrap_or_default()
}

fn optional_number<T: std::str::FromStr>(attrs: &[(String, String)], key: &str) -> Result<Option<T>, ExchangeError> {
    match get(attrs, key) {
        v if v.is_empty() => Ok(None),
        v => v.parse().map(Some).map_err(|_| ExchangeError::Number { field: key.into(), value: v }),
    }
}

fn unexpected(found: Ev, expected: &str) -> ExchangeError {
    let found = match found {
        Ev::Start((n, _)) | Ev::Empty((n, _)) => n,
        Ev::End(n) => format!("/{n}"),
        Ev::Text(_) => "text".into(),
        Ev::Eof => "end of document".into(),
    };
    ExchangeError::Unexpected { found, expected: expected.into() }
}
