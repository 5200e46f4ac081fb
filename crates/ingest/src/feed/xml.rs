//! A forgiving XML reader for feeds: builds a small element tree from text that may be
//! ill-formed (unclosed or misnested tags, undefined entities, stray `<` and `&`, undeclared
//! prefixes), noting each problem instead of giving up. Namespaces are resolved from `xmlns`
//! declarations, with the usual feed prefixes as a fallback for undeclared ones.

/// A node of the tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// An element.
    Element(Element),
    /// Character data (entities decoded, CDATA unwrapped).
    Text(String),
}

/// An element with its resolved namespace.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Element {
    /// Namespace URI ("" when none).
    pub ns: String,
    /// Local name, lower-cased.
    pub name: String,
    /// The name as written (prefix included).
    pub qname: String,
    /// Attributes: (qualified name as written, lower-cased; value with entities decoded).
    pub attrs: Vec<(String, String)>,
    /// Children in order.
    pub children: Vec<Node>,
}

/// Well-known namespaces.
pub mod ns {
    /// Atom 1.0.
    pub const ATOM10: &str = "http://www.w3.org/2005/Atom";
    /// Atom 0.3.
    pub const ATOM03: &str = "http://purl.org/atom/ns#";
    /// RSS 1.0.
    pub const RSS10: &str = "http://purl.org/rss/1.0/";
    /// RSS 0.90.
    pub const RSS090: &str = "http://my.netscape.com/rdf/simple/0.9/";
    /// RDF.
    pub const RDF: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
    /// Dublin Core elements.
    pub const DC: &str = "http://purl.org/dc/elements/1.1/";
    /// Dublin Core terms.
    pub const DCTERMS: &str = "http://purl.org/dc/terms/";
    /// RSS content module.
    pub const CONTENT: &str = "http://purl.org/rss/1.0/modules/content/";
    /// XHTML.
    pub const XHTML: &str = "http://www.w3.org/1999/xhtml";
    /// The xml: prefix.
    pub const XML: &str = "http://www.w3.org/XML/1998/namespace";
}

/// Prefixes feeds use without declaring them.
fn default_prefix(prefix: &str) -> Option<&'static str> {
    Some(match prefix {
        "dc" => ns::DC,
        "dcterms" => ns::DCTERMS,
        "content" => ns::CONTENT,
        "atom" => ns::ATOM10,
        "rdf" => ns::RDF,
        "xhtml" => ns::XHTML,
        "xml" => ns::XML,
        _ => return None,
    })
}

impl Element {
    /// Child elements.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The first child element with this local name in one of these namespaces.
    pub fn child(&self, nss: &[&str], name: &str) -> Option<&Element> {
        self.elements().find(|e| e.name == name && nss.contains(&e.ns.as_str()))
    }

    /// An attribute by (lower-cased) qualified name.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// All the text inside, concatenated.
    pub fn text(&self) -> String {
        let mut out = String::new();
        self.collect_text(&mut out);
        out
    }

    fn collect_text(&self, out: &mut String) {
        for n in &self.children {
            match n {
                Node::Text(t) => out.push_str(t),
                Node::Element(e) => e.collect_text(out),
            }
        }
    }

    /// The children written back as markup (for inline XHTML content).
    pub fn inner_markup(&self) -> String {
        let mut out = String::new();
        for n in &self.children {
            write_node(n, &mut out);
        }
        out
    }
}

fn write_node(n: &Node, out: &mut String) {
    match n {
        Node::Text(t) => out.push_str(&html_escape::encode_text(t)),
        Node::Element(e) => {
            let name = if e.ns == ns::XHTML || e.ns.is_empty() { e.name.as_str() } else { e.qname.as_str() };
            out.push('<');
            out.push_str(name);
            for (k, v) in &e.attrs {
                if k.starts_with("xmlns") {
                    continue;
                }
                out.push(' ');
                out.push_str(k);
                out.push_str("=\"");
                out.push_str(&html_escape::encode_double_quoted_attribute(v));
                out.push('"');
            }
            out.push('>');
            for c in &e.children {
                write_node(c, out);
            }
            out.push_str("</");
            out.push_str(name);
            out.push('>');
        }
    }
}

/// What [`parse`] found.
#[derive(Debug, Default)]
pub struct Document {
    /// The root element (a synthetic empty one when the text has none).
    pub root: Element,
    /// Problems, with byte offsets.
    pub problems: Vec<String>,
}

struct Open {
    qname: String,
    attrs: Vec<(String, String)>,
    children: Vec<Node>,
    /// Namespace declarations made on this element.
    scope: Vec<(String, String)>,
}

/// Decodes entities in character data: XML's five, numeric references, and HTML's named
/// entities (which feeds use without declaring). An unknown entity is kept as written.
pub fn decode_entities(s: &str, problems: &mut Vec<String>, at: usize) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let end = tail[1..].find(|c: char| c == ';' || c == '&' || c == '<' || c.is_whitespace()).map(|p| p + 1);
        match end {
            Some(e) if tail.as_bytes().get(e) == Some(&b';') && e > 1 => {
                let entity = &tail[..=e];
                let decoded = html_escape::decode_html_entities(entity);
                if decoded == entity {
                    problems.push(format!("byte {at}: undefined entity {entity}"));
                }
                out.push_str(&decoded);
                rest = &tail[e + 1..];
            }
            _ => {
                // A bare '&': keep it.
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    fix_c1(out)
}

/// Text that contains C1 control characters (U+0080–U+009F, never meant as text) was produced
/// by a wrong decoding: UTF-8 read as Latin-1 (repaired when the Latin-1 bytes are valid UTF-8)
/// or Windows-1252 punctuation written as code points (mapped to what Windows-1252 meant).
pub fn fix_c1(s: String) -> String {
    if !s.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c)) {
        return s;
    }
    if s.chars().all(|c| (c as u32) < 0x100) {
        let bytes: Vec<u8> = s.chars().map(|c| c as u32 as u8).collect();
        if let Ok(repaired) = String::from_utf8(bytes) {
            return repaired;
        }
    }
    s.chars()
        .map(|c| {
            if ('\u{80}'..='\u{9f}').contains(&c) {
                let byte = [c as u32 as u8];
                let (decoded, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&byte);
                decoded.chars().next().unwrap_or(c)
            } else {
                c
            }
        })
        .collect()
}

fn parse_attrs(s: &str, problems: &mut Vec<String>, at: usize) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'=' && b[i] != b'/' {
            i += 1;
        }
        if start == i {
            break;
        }
        let name = s[start..i].to_ascii_lowercase();
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i < b.len() && b[i] == b'=' {
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            let value = if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                let q = b[i];
                let vs = i + 1;
                let ve = s[vs..].find(q as char).map(|p| vs + p).unwrap_or(b.len());
                i = (ve + 1).min(b.len());
                &s[vs..ve]
            } else {
                let vs = i;
                while i < b.len() && !b[i].is_ascii_whitespace() {
                    i += 1;
                }
                problems.push(format!("byte {at}: unquoted attribute value"));
                &s[vs..i]
            };
            out.push((name, decode_entities(value, problems, at)));
        } else {
            out.push((name.clone(), name));
        }
    }
    out
}

/// Deepest nesting of elements kept; deeper start and end tags are skipped (a feed never needs
/// this many, and a hostile one must not make the reader's work or the tree's depth unbounded).
pub const MAX_DEPTH: usize = 256;
/// Most problems listed; the rest are counted.
pub const MAX_PROBLEMS: usize = 100;

/// Reads `text` into a tree, recovering from every kind of damage it can.
pub fn parse(text: &str) -> Document {
    let mut problems = Vec::new();
    let mut too_deep = 0usize;
    let mut stack: Vec<Open> = vec![Open { qname: String::new(), attrs: vec![], children: vec![], scope: vec![] }];
    let mut i = 0;
    let b = text.as_bytes();
    let mut text_start = 0;
    let flush_text = |stack: &mut Vec<Open>, raw: &str, problems: &mut Vec<String>, at: usize| {
        if raw.is_empty() {
            return;
        }
        let t = decode_entities(raw, problems, at);
        push_text(stack, t);
    };
    while i < b.len() {
        if b[i] != b'<' {
            i += 1;
            continue;
        }
        let rest = &text[i..];
        if rest.starts_with("<!--") {
            flush_text(&mut stack, &text[text_start..i], &mut problems, text_start);
            let end = rest.find("-->").map(|p| i + p + 3).unwrap_or(b.len());
            i = end;
            text_start = i;
            continue;
        }
        if let Some(cdata) = rest.strip_prefix("<![CDATA[") {
            flush_text(&mut stack, &text[text_start..i], &mut problems, text_start);
            let (content, end) = match cdata.find("]]>") {
                Some(p) => (&cdata[..p], i + 9 + p + 3),
                None => {
                    problems.push(format!("byte {i}: unterminated CDATA section"));
                    (cdata, b.len())
                }
            };
            push_text(&mut stack, content.to_string());
            i = end;
            text_start = i;
            continue;
        }
        let declaration = rest.starts_with("<!") && rest.as_bytes().get(2).is_some_and(|c| c.is_ascii_alphabetic());
        if rest.starts_with("<?") || declaration {
            flush_text(&mut stack, &text[text_start..i], &mut problems, text_start);
            // Processing instruction or doctype (an internal subset's brackets are skipped).
            let end = if rest.starts_with("<!DOCTYPE") || rest.starts_with("<!doctype") {
                let close = match (rest.find('['), rest.find('>')) {
                    (Some(o), Some(c)) if o < c => rest[o..].find("]>").map(|p| o + p + 2),
                    (_, c) => c.map(|c| c + 1),
                };
                close.map(|c| i + c).unwrap_or(b.len())
            } else {
                rest.find('>').map(|p| i + p + 1).unwrap_or(b.len())
            };
            i = end;
            text_start = i;
            continue;
        }
        let next = b.get(i + 1).copied().unwrap_or(b' ');
        let is_tag = next == b'/' || next.is_ascii_alphabetic() || next == b'_' || next >= 0x80;
        if !is_tag {
            problems.push(format!("byte {i}: stray '<' in text"));
            i += 1;
            continue;
        }
        // Find the tag's end, skipping quoted attribute values.
        let mut j = i + 1;
        let mut quote = 0u8;
        while j < b.len() {
            let c = b[j];
            if quote != 0 {
                if c == quote {
                    quote = 0;
                }
            } else if c == b'"' || c == b'\'' {
                quote = c;
            } else if c == b'>' || c == b'<' {
                break;
            }
            j += 1;
        }
        if j >= b.len() || b[j] != b'>' {
            problems.push(format!("byte {i}: unterminated tag"));
            if j >= b.len() {
                break;
            }
        }
        flush_text(&mut stack, &text[text_start..i], &mut problems, text_start);
        let inner = &text[i + 1..j.min(b.len())];
        i = if j < b.len() && b[j] == b'>' { j + 1 } else { j };
        text_start = i;
        if let Some(name) = inner.strip_prefix('/') {
            let name = name.trim().to_ascii_lowercase();
            if too_deep > 0 && !stack.iter().any(|o| o.qname == name) {
                // The end tag of an element skipped for its depth.
                too_deep -= 1;
                continue;
            }
            close(&mut stack, &name, &mut problems, i);
            continue;
        }
        let self_closing = inner.ends_with('/');
        if stack.len() > MAX_DEPTH {
            if too_deep == 0 {
                problems
                    .push(format!("byte {i}: elements nested deeper than {MAX_DEPTH}; the deeper ones are skipped"));
            }
            if !self_closing {
                too_deep += 1;
            }
            continue;
        }
        let inner = inner.trim_end_matches('/');
        let name_end = inner.find(|c: char| c.is_whitespace()).unwrap_or(inner.len());
        let qname = inner[..name_end].to_ascii_lowercase();
        let attrs = parse_attrs(&inner[name_end..], &mut problems, i);
        let scope = attrs
            .iter()
            .filter_map(|(k, v)| {
                if k == "xmlns" {
                    Some((String::new(), v.clone()))
                } else {
                    k.strip_prefix("xmlns:").map(|p| (p.to_string(), v.clone()))
                }
            })
            .collect();
        // Entries never nest: a new <item> or <entry> while one is open closes it.
        let local = qname.rsplit(':').next().unwrap_or(&qname);
        if (local == "item" || local == "entry") && stack.iter().any(|o| o.qname == qname) {
            problems.push(format!("byte {i}: <{qname}> opened inside an open <{qname}>"));
            close(&mut stack, &qname, &mut problems, i);
        }
        stack.push(Open { qname: qname.clone(), attrs, children: vec![], scope });
        if self_closing {
            close(&mut stack, &qname, &mut problems, i);
        }
    }
    flush_text(&mut stack, &text[text_start.min(b.len())..], &mut problems, text_start);
    while stack.len() > 1 {
        let name = stack.last().map(|o| o.qname.clone()).unwrap_or_default();
        problems.push(format!("end of document: <{name}> is not closed"));
        finish(&mut stack);
    }
    let top = stack.pop().expect("the document node");
    let root = top
        .children
        .into_iter()
        .find_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
        .unwrap_or_default();
    if root.name.is_empty() {
        problems.push("no root element".into());
    }
    if problems.len() > MAX_PROBLEMS {
        let more = problems.len() - MAX_PROBLEMS;
        problems.truncate(MAX_PROBLEMS);
        problems.push(format!("… and {more} more problems"));
    }
    Document { root, problems }
}

fn push_text(stack: &mut [Open], t: String) {
    let top = stack.last_mut().expect("the document node");
    if let Some(Node::Text(prev)) = top.children.last_mut() {
        prev.push_str(&t);
    } else {
        top.children.push(Node::Text(t));
    }
}

/// Closes the innermost open element named `name` (closing any left open inside it); an end
/// tag with no open element of that name is ignored.
fn close(stack: &mut Vec<Open>, name: &str, problems: &mut Vec<String>, at: usize) {
    let Some(pos) = stack.iter().rposition(|o| o.qname == name) else {
        problems.push(format!("byte {at}: end tag </{name}> without a start tag"));
        return;
    };
    if pos == 0 {
        return;
    }
    while stack.len() > pos + 1 {
        let inner = stack.last().map(|o| o.qname.clone()).unwrap_or_default();
        problems.push(format!("byte {at}: <{inner}> closed by </{name}>"));
        finish(stack);
    }
    finish(stack);
}

/// Pops the top element, resolving its namespace, into its parent.
fn finish(stack: &mut Vec<Open>) {
    let open = stack.pop().expect("an open element");
    let (prefix, local) = match open.qname.split_once(':') {
        Some((p, l)) => (p.to_string(), l.to_string()),
        None => (String::new(), open.qname.clone()),
    };
    let mut ns = None;
    for o in std::iter::once(&open).chain(stack.iter().rev()) {
        if let Some((_, uri)) = o.scope.iter().find(|(p, _)| *p == prefix) {
            ns = Some(uri.clone());
            break;
        }
    }
    let ns = ns.or_else(|| default_prefix(&prefix).map(String::from)).unwrap_or_default();
    let e = Element { ns, name: local, qname: open.qname, attrs: open.attrs, children: open.children };
    stack.last_mut().expect("the document node").children.push(Node::Element(e));
}
