//! A small SQL lexer for [`cache_key`](super::cache_key) and the nesting guard of
//! [`analyze`](super::analyze). It does not parse: it only tells code from string literals,
//! quoted names and comments, and finds placeholders, for all four dialects at once.
//!
//! Every token boundary falls on an ASCII byte or the end of the input, so slicing the SQL at
//! token boundaries never splits a UTF-8 character.

/// The kind of placeholder, for comparing shapes: `?` and `?1`; `$1`; `:name`, `@name`, `$name`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Class {
    Question,
    Dollar,
    Named,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// An unquoted identifier or keyword.
    Word,
    Number,
    /// `"name"` or `` `name` ``.
    Quoted,
    /// `'text'`, `$$text$$` or `$tag$text$tag$`.
    String,
    Placeholder(Class),
    LParen,
    RParen,
    Comma,
    /// Any other punctuation: one byte, or `::` / `@@`.
    Symbol,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Token {
    pub(super) kind: Kind,
    pub(super) start: usize,
    pub(super) end: usize,
}

#[derive(Clone)]
pub(super) struct Lexer<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Lexer<'a> {
    pub(super) fn new(sql: &'a str) -> Self {
        Self::at(sql, 0)
    }

    pub(super) fn at(sql: &'a str, pos: usize) -> Self {
        Lexer {
            bytes: sql.as_bytes(),
            pos,
        }
    }

    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    fn peek(&self, ahead: usize) -> u8 {
        self.bytes.get(self.pos + ahead).copied().unwrap_or(0)
    }

    fn skip_while(&mut self, f: impl Fn(u8) -> bool) {
        while self.pos < self.bytes.len() && f(self.bytes[self.pos]) {
            self.pos += 1;
        }
    }

    /// Skips whitespace and comments. `#` starts a comment as in MySQL; in PostgreSQL it is an
    /// operator, and reading the rest of its line as a comment only means nothing there is
    /// collapsed.
    fn skip_trivia(&mut self) {
        loop {
            match (self.peek(0), self.peek(1)) {
                (b' ' | b'\t' | b'\n' | b'\r' | 0x0c, _) => self.pos += 1,
                (b'-', b'-') | (b'#', _) => self.skip_while(|b| b != b'\n'),
                (b'/', b'*') => self.block_comment(),
                _ => return,
            }
        }
    }

    /// PostgreSQL nests block comments, MySQL does not; nesting errs on the side of reading
    /// more as comment.
    fn block_comment(&mut self) {
        let mut depth = 0usize;
        while self.pos < self.bytes.len() {
            match (self.peek(0), self.peek(1)) {
                (b'/', b'*') => {
                    depth += 1;
                    self.pos += 2;
                }
                (b'*', b'/') => {
                    depth -= 1;
                    self.pos += 2;
                    if depth == 0 {
                        return;
                    }
                }
                _ => self.pos += 1,
            }
        }
    }

    /// A quoted run that ends at `quote`, where a doubled quote stands for itself; with
    /// `backslash`, a backslash escapes the next byte (MySQL strings, PostgreSQL `E''`).
    fn quoted(&mut self, quote: u8, backslash: bool) {
        self.pos += 1;
        while self.pos < self.bytes.len() {
            let b = self.bytes[self.pos];
            if backslash && b == b'\\' {
                self.pos += 2;
            } else if b == quote {
                self.pos += 1;
                if self.peek(0) != quote {
                    return;
                }
                self.pos += 1;
            } else {
                self.pos += 1;
            }
        }
        self.pos = self.pos.min(self.bytes.len());
    }

    /// After `$`: `$1` is a placeholder, `$$` and `$tag$` open a dollar-quoted string, `$name`
    /// is an SQLite placeholder.
    fn dollar(&mut self) -> Kind {
        let start = self.pos;
        self.pos += 1;
        if self.peek(0).is_ascii_digit() {
            self.skip_while(|b| b.is_ascii_digit());
            return Kind::Placeholder(Class::Dollar);
        }
        if self.peek(0) != b'$' && !is_ident_start(self.peek(0)) {
            return Kind::Symbol;
        }
        self.skip_while(is_ident_part_no_dollar);
        if self.peek(0) != b'$' {
            return Kind::Placeholder(Class::Named);
        }
        self.pos += 1;
        let tag = &self.bytes[start..self.pos];
        match find(&self.bytes[self.pos..], tag) {
            Some(at) => self.pos += at + tag.len(),
            None => self.pos = self.bytes.len(),
        }
        Kind::String
    }
}

impl Iterator for Lexer<'_> {
    type Item = Token;

    fn next(&mut self) -> Option<Token> {
        self.skip_trivia();
        let start = self.pos;
        let b = *self.bytes.get(start)?;
        let kind = match b {
            b'(' => {
                self.pos += 1;
                Kind::LParen
            }
            b')' => {
                self.pos += 1;
                Kind::RParen
            }
            b',' => {
                self.pos += 1;
                Kind::Comma
            }
            b'\'' => {
                self.quoted(b'\'', true);
                Kind::String
            }
            b'"' | b'`' => {
                self.quoted(b, false);
                Kind::Quoted
            }
            b'$' => self.dollar(),
            b'?' => {
                self.pos += 1;
                self.skip_while(|b| b.is_ascii_digit());
                Kind::Placeholder(Class::Question)
            }
            b':' | b'@' if self.peek(1) == b => {
                self.pos += 2;
                Kind::Symbol
            }
            b':' | b'@' if is_ident_start(self.peek(1)) => {
                self.pos += 1;
                self.skip_while(is_ident_part_no_dollar);
                Kind::Placeholder(Class::Named)
            }
            b'0'..=b'9' => {
                self.skip_while(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_');
                Kind::Number
            }
            _ if is_ident_start(b) => {
                self.skip_while(|b| is_ident_part_no_dollar(b) || b == b'$');
                Kind::Word
            }
            _ => {
                self.pos += 1;
                Kind::Symbol
            }
        };
        Some(Token {
            kind,
            start,
            end: self.pos,
        })
    }
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_ident_part_no_dollar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// How deep the parser's syntax tree for `sql` can get, in two measures.
///
/// `weight` bounds the depth beyond what the parser's recursion limit bounds: every operator
/// (a symbol or a word) can add one level to a left-deep chain such as `a + b + c` or
/// `x IS NULL IS NULL`, which the parser builds in a loop. Literals, placeholders, parentheses
/// and commas add none.
///
/// `depth` is the deepest nesting of parentheses and brackets, which is what makes the
/// parser recurse through its largest stack frames (subqueries, parenthesised joins).
pub(super) struct Nesting {
    pub(super) weight: usize,
    pub(super) depth: usize,
}

pub(super) fn nesting(sql: &str) -> Nesting {
    let mut nesting = Nesting {
        weight: 0,
        depth: 0,
    };
    let mut depth = 0usize;
    for token in Lexer::new(sql) {
        match token.kind {
            Kind::Word => nesting.weight += 1,
            Kind::Symbol if sql.as_bytes()[token.start] == b'[' => {
                depth += 1;
                nesting.depth = nesting.depth.max(depth);
            }
            Kind::Symbol if sql.as_bytes()[token.start] == b']' => {
                depth = depth.saturating_sub(1);
            }
            Kind::Symbol => nesting.weight += 1,
            Kind::LParen => {
                depth += 1;
                nesting.depth = nesting.depth.max(depth);
            }
            Kind::RParen => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    nesting
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(sql: &str) -> Vec<(Kind, &str)> {
        Lexer::new(sql)
            .map(|t| (t.kind, &sql[t.start..t.end]))
            .collect()
    }

    #[test]
    fn strings_comments_and_quotes_are_single_tokens() {
        let sql = "a 'x (?, ?)' \"b c\" `d` -- e (?)\n /* f /* g */ (?) */ $$ (?) $$ $t$ ' $t$ 'it''s' 'a\\'b'";
        let got: Vec<_> = kinds(sql).into_iter().map(|(k, _)| k).collect();
        use Kind::*;
        assert_eq!(
            got,
            [Word, String, Quoted, Quoted, String, String, String, String]
        );
    }

    #[test]
    fn placeholders_of_each_dialect() {
        let got = kinds("$1 ? ?12 :name @name $name x::int @@v a$b");
        let p = |c| Kind::Placeholder(c);
        assert_eq!(
            got,
            [
                (p(Class::Dollar), "$1"),
                (p(Class::Question), "?"),
                (p(Class::Question), "?12"),
                (p(Class::Named), ":name"),
                (p(Class::Named), "@name"),
                (p(Class::Named), "$name"),
                (Kind::Word, "x"),
                (Kind::Symbol, "::"),
                (Kind::Word, "int"),
                (Kind::Symbol, "@@"),
                (Kind::Word, "v"),
                (Kind::Word, "a$b"),
            ]
        );
    }

    #[test]
    fn unterminated_runs_end_at_the_input() {
        for sql in ["'abc", "\"abc", "/* abc", "$$ abc", "$t$ abc", "'\\", "é'"] {
            let end = Lexer::new(sql).last().map_or(sql.len(), |t| t.end);
            assert_eq!(end, sql.len(), "{sql}");
        }
    }

    #[test]
    fn nesting_counts_operators_and_brackets() {
        let n = |sql| {
            let n = nesting(sql);
            (n.weight, n.depth)
        };
        assert_eq!(n("(1, 'a', $1, ?)"), (0, 1));
        assert_eq!(n("1 + 2 + 3"), (2, 0));
        assert_eq!(n("a IS NULL"), (3, 0));
        assert_eq!(n("f((1), [[2]]) ')))((('"), (1, 3));
        assert_eq!(n("))) ((("), (0, 3));
    }
}
