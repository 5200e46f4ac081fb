//! The rule language's parser: text → [`Node`] tree, with errors that give a 1-based character
//! column, what was expected, and a message in English and Chinese. See `docs/rules.md`.
//!
//! Precedence, loosest first: `OR`, then `AND` (or two operands side by side, or `A NOT B`), then
//! prefix `NOT`, then `NEAR/n`. Operators are upper case only.

use super::{Field, Leaf, Node};
use crate::normalize::fold;

/// A parse error: where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// 1-based character column.
    pub column: usize,
    /// English message.
    pub message: String,
    /// Chinese message.
    pub message_zh: String,
}

impl std::fmt::Display for RuleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "column {}: {} / 第 {} 列：{}", self.column, self.message, self.column, self.message_zh)
    }
}

impl std::error::Error for RuleError {}

fn err(column: usize, en: impl Into<String>, zh: impl Into<String>) -> RuleError {
    RuleError { column, message: en.into(), message_zh: zh.into() }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Phrase(String),
    Field(Field),
    LParen,
    RParen,
    And,
    Or,
    Not,
    Near { n: u32, ordered: bool },
}

#[derive(Debug, Clone)]
struct Spanned {
    tok: Tok,
    col: usize,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Word(w) => format!("term {w:?}"),
        Tok::Phrase(p) => format!("phrase \"{p}\""),
        Tok::Field(f) => format!("field {}:", f.name()),
        Tok::LParen => "'('".into(),
        Tok::RParen => "')'".into(),
        Tok::And => "AND".into(),
        Tok::Or => "OR".into(),
        Tok::Not => "NOT".into(),
        Tok::Near { n, ordered } => format!("NEAR/{n}{}", if *ordered { "f" } else { "" }),
    }
}

fn lex(src: &str) -> Result<Vec<Spanned>, RuleError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        match c {
            '(' | '（' => {
                out.push(Spanned { tok: Tok::LParen, col });
                i += 1;
            }
            ')' | '）' => {
                out.push(Spanned { tok: Tok::RParen, col });
                i += 1;
            }
            '"' | '“' | '”' => {
                let close = |c: char| c == '"' || c == '”' || c == '“';
                let start = i + 1;
                let mut j = start;
                while j < chars.len() && !close(chars[j]) {
                    j += 1;
                }
                if j >= chars.len() {
                    return Err(err(
                        col,
                        "unterminated phrase: expected a closing '\"'",
                        "短语未结束：缺少右引号 '\"'",
                    ));
                }
                let text: String = chars[start..j].iter().collect();
                if !text.chars().any(char::is_alphanumeric) {
                    return Err(err(
                        col,
                        "empty phrase: expected words between the quotes",
                        "空短语：引号之间需要有词",
                    ));
                }
                out.push(Spanned { tok: Tok::Phrase(text), col });
                i = j + 1;
            }
            _ => {
                let start = i;
                let mut j = i;
                while j < chars.len()
                    && !chars[j].is_whitespace()
                    && !matches!(chars[j], '(' | ')' | '（' | '）' | '"' | '“' | '”')
                {
                    // A field prefix ends the word at its colon.
                    if chars[j] == ':' && j > start && chars[start..j].iter().all(|c| c.is_ascii_alphabetic()) {
                        break;
                    }
                    j += 1;
                }
                let word: String = chars[start..j].iter().collect();
                if j < chars.len()
                    && chars[j] == ':'
                    && !word.is_empty()
                    && word.chars().all(|c| c.is_ascii_alphabetic())
                {
                    let field = Field::from_name(&word).ok_or_else(|| {
                        err(
                            col,
                            format!("unknown field {word:?}: expected one of title, text, site, source, lang, url"),
                            format!("未知字段 {word:?}：应为 title、text、site、source、lang、url 之一"),
                        )
                    })?;
                    out.push(Spanned { tok: Tok::Field(field), col });
                    i = j + 1;
                    continue;
                }
                let tok = match word.as_str() {
                    "AND" => Tok::And,
                    "OR" => Tok::Or,
                    "NOT" => Tok::Not,
                    w if w.starts_with("NEAR/") => {
                        let spec = &w[5..];
                        let (digits, ordered) = match spec.strip_suffix('f') {
                            Some(d) => (d, true),
                            None => (spec, false),
                        };
                        let n: u32 = digits.parse().ok().filter(|n| *n <= 1000).ok_or_else(|| {
                            err(
                                col,
                                format!("bad NEAR operator {w:?}: expected NEAR/n or NEAR/nf with n from 0 to 1000"),
                                format!("NEAR 运算符 {w:?} 有误：应为 NEAR/n 或 NEAR/nf，n 取 0 到 1000"),
                            )
                        })?;
                        Tok::Near { n, ordered }
                    }
                    _ => Tok::Word(word),
                };
                out.push(Spanned { tok, col });
                i = j;
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Spanned>,
    pos: usize,
    end_col: usize,
    depth: usize,
}

const MAX_DEPTH: usize = 64;

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|s| &s.tok)
    }

    fn col(&self) -> usize {
        self.toks.get(self.pos).map(|s| s.col).unwrap_or(self.end_col)
    }

    fn or_expr(&mut self) -> Result<Node, RuleError> {
        let mut alts = vec![self.and_expr()?];
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            alts.push(self.and_expr()?);
        }
        Ok(if alts.len() == 1 { alts.pop().expect("one") } else { Node::Or(alts) })
    }

    fn starts_operand(t: Option<&Tok>) -> bool {
        matches!(t, Some(Tok::Word(_) | Tok::Phrase(_) | Tok::Field(_) | Tok::LParen | Tok::Not))
    }

    fn and_expr(&mut self) -> Result<Node, RuleError> {
        let mut parts = vec![self.not_expr()?];
        loop {
            match self.peek() {
                Some(Tok::And) => {
                    self.pos += 1;
                    parts.push(self.not_expr()?);
                }
                t if Self::starts_operand(t) => parts.push(self.not_expr()?),
                _ => break,
            }
        }
        Ok(if parts.len() == 1 { parts.pop().expect("one") } else { Node::And(parts) })
    }

    fn not_expr(&mut self) -> Result<Node, RuleError> {
        if self.peek() == Some(&Tok::Not) {
            self.pos += 1;
            if !Self::starts_operand(self.peek()) {
                return Err(self.expected("a term, phrase or '(' after NOT", "NOT 之后应为词、短语或 '('"));
            }
            return Ok(Node::Not(Box::new(self.not_expr()?)));
        }
        self.near_expr()
    }

    fn near_expr(&mut self) -> Result<Node, RuleError> {
        let col = self.col();
        let mut left = self.primary()?;
        while let Some(Tok::Near { n, ordered }) = self.peek().cloned() {
            self.pos += 1;
            if !matches!(self.peek(), Some(Tok::Word(_) | Tok::Phrase(_) | Tok::Field(_) | Tok::LParen)) {
                return Err(self.expected("a term, phrase or '(' after NEAR", "NEAR 之后应为词、短语或 '('"));
            }
            let right_col = self.col();
            let right = self.primary()?;
            for (side, c) in [(&left, col), (&right, right_col)] {
                if !side.is_near_operand() {
                    return Err(err(
                        c,
                        "NEAR joins terms, phrases, or OR-groups of them (not AND or NOT)",
                        "NEAR 只能连接词、短语或由 OR 组成的组（不能含 AND 或 NOT）",
                    ));
                }
            }
            left = Node::Near { a: Box::new(left), b: Box::new(right), n, ordered };
        }
        Ok(left)
    }

    fn primary(&mut self) -> Result<Node, RuleError> {
        let col = self.col();
        let field = if let Some(Tok::Field(f)) = self.peek() {
            let f = *f;
            self.pos += 1;
            Some(f)
        } else {
            None
        };
        match self.peek().cloned() {
            Some(Tok::Word(w)) => {
                self.pos += 1;
                leaf(&w, false, field.unwrap_or(Field::Any), col)
            }
            Some(Tok::Phrase(p)) => {
                self.pos += 1;
                leaf(&p, true, field.unwrap_or(Field::Any), col)
            }
            Some(Tok::LParen) => {
                self.pos += 1;
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(err(
                        col,
                        format!("nesting deeper than {MAX_DEPTH} levels"),
                        format!("嵌套超过 {MAX_DEPTH} 层"),
                    ));
                }
                if self.peek() == Some(&Tok::RParen) {
                    return Err(
                        self.expected("a term, phrase or '(' inside the parentheses", "括号内应为词、短语或 '('")
                    );
                }
                let inner = self.or_expr()?;
                if self.peek() != Some(&Tok::RParen) {
                    return Err(self.expected(
                        "')' to close the '(' of column ".to_string() + &col.to_string(),
                        format!("')'，以闭合第 {col} 列的 '('"),
                    ));
                }
                self.pos += 1;
                self.depth -= 1;
                Ok(match field {
                    Some(f) => inner.with_field(f),
                    None => inner,
                })
            }
            _ => Err(self.expected(
                if field.is_some() { "a term, phrase or '(' after the field" } else { "a term, phrase or '('" },
                if field.is_some() { "字段之后应为词、短语或 '('" } else { "应为词、短语或 '('" },
            )),
        }
    }

    fn expected(&self, en: impl Into<String>, zh: impl Into<String>) -> RuleError {
        let found = match self.toks.get(self.pos) {
            Some(t) => describe(&t.tok),
            None => "the end of the rule".into(),
        };
        let found_zh = match self.toks.get(self.pos) {
            Some(t) => describe(&t.tok),
            None => "规则结尾".into(),
        };
        err(self.col(), format!("expected {}, found {found}", en.into()), format!("{}，但遇到 {found_zh}", zh.into()))
    }
}

fn leaf(raw: &str, phrase: bool, field: Field, col: usize) -> Result<Node, RuleError> {
    if field.is_metadata() {
        let value = raw.trim().to_lowercase();
        if value.is_empty() {
            return Err(err(col, "empty field value", "字段值为空"));
        }
        return Ok(Node::Leaf(Leaf { field, text: value, phrase, wildcard: false, column: col }));
    }
    let wildcard = !phrase && raw.ends_with('*');
    let body = if wildcard { &raw[..raw.len() - 1] } else { raw };
    let folded = fold(body);
    if wildcard && (folded.is_empty() || !folded.chars().all(|c| c.is_ascii_alphanumeric())) {
        return Err(err(
            col,
            "a wildcard '*' may only end a Latin word (protest*)",
            "通配符 '*' 只能用于拉丁字母单词末尾（如 protest*）",
        ));
    }
    if !folded.chars().any(char::is_alphanumeric) {
        return Err(err(
            col,
            format!("{raw:?} has no letters, digits or characters to match"),
            format!("{raw:?} 不含可匹配的字母、数字或汉字"),
        ));
    }
    Ok(Node::Leaf(Leaf { field, text: folded, phrase, wildcard, column: col }))
}

/// Parses a rule. The result is checked: it has a positive term on every path that can match.
pub fn parse_rule(src: &str) -> Result<Node, RuleError> {
    if src.chars().count() > 10_000 {
        return Err(err(1, "the rule is longer than 10,000 characters", "规则超过 10,000 个字符"));
    }
    let toks = lex(src)?;
    let end_col = src.chars().count() + 1;
    if toks.is_empty() {
        return Err(err(1, "the rule is empty: expected a term, phrase or '('", "规则为空：应为词、短语或 '('"));
    }
    let mut p = Parser { toks, pos: 0, end_col, depth: 0 };
    let node = p.or_expr()?;
    if p.pos < p.toks.len() {
        let what = if p.peek() == Some(&Tok::RParen) {
            "an operator or the end of the rule (unmatched ')')"
        } else {
            "an operator or the end of the rule"
        };
        return Err(p.expected(what, "运算符或规则结尾"));
    }
    if !node.is_positive() {
        return Err(err(
            1,
            "the rule needs a positive term on every OR branch (a rule made only of NOT matches almost everything)",
            "规则的每个 OR 分支都需要至少一个肯定词（只有 NOT 的规则几乎匹配一切）",
        ));
    }
    Ok(node)
}
