//! [`cache_key`]: one key for SQL that differs only in the length of its placeholder lists.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;

use super::lex::{Kind, Lexer, Token};

/// The key under which to cache the [`analyze`](super::analyze) result of `sql`.
///
/// Code that builds SQL at run time makes a new text for every length of an `IN` list or of a
/// multi-row `VALUES`, so a cache keyed by the text would fill with copies of one analysis.
/// `cache_key` maps them to one text:
///
/// - an `IN (…)` list whose items all have the same shape, and at least one placeholder, keeps
///   its first item: `IN ($1, $2, $3)`, `IN (?, ?)` and `IN ((?, ?), (?, ?))` become `IN ($1)`,
///   `IN (?)` and `IN ((?, ?))`;
/// - `VALUES` keeps the first row of a run of rows with the same shape:
///   `VALUES (?, ?), (?, ?)` becomes `VALUES (?, ?)`;
/// - when something was collapsed, placeholders that end in a number (`$1`, `?1`, `:p1`) are
///   renumbered in order of first appearance, for each prefix, so that the placeholders after
///   a list agree whatever its length.
///
/// Two items have the same shape when they are the same tokens, except that any placeholder
/// matches any placeholder of its kind. String literals, quoted names and comments are never
/// changed. The key is valid SQL with the same analysis as `sql`, and `sql` itself is returned,
/// borrowed and without allocating, when there is nothing to collapse.
///
/// An item may nest parentheses one level deep (`IN ((?, ?), (?, ?))`), a `VALUES` row two
/// (`VALUES (?, (SELECT id FROM t WHERE k = ?))`); deeper ones are not collapsed. It runs in
/// time linear in the length of `sql`: one pass, with a bounded look ahead at each list (and
/// a second pass over the text before the first collapse, in the rare case that the numbered
/// placeholders there are not in order).
///
/// ```
/// use std::borrow::Cow;
/// use provenance_sqlx::cache_key;
///
/// let short = "SELECT * FROM orders WHERE id IN ($1, $2) AND shop = $3";
/// let long = "SELECT * FROM orders WHERE id IN ($1, $2, $3, $4) AND shop = $5";
/// assert_eq!(cache_key(short), cache_key(long));
/// assert_eq!(cache_key(long), "SELECT * FROM orders WHERE id IN ($1) AND shop = $2");
///
/// // Nothing to collapse: the same text comes back, borrowed.
/// assert!(matches!(cache_key("SELECT 1"), Cow::Borrowed("SELECT 1")));
/// // Placeholders in a string literal are text, not a list.
/// assert!(matches!(cache_key("SELECT 'IN (?, ?)'"), Cow::Borrowed(_)));
/// ```
pub fn cache_key(sql: &str) -> Cow<'_, str> {
    match Rewrite::new(sql, false).run() {
        Ok(key) => key,
        // The placeholders before the first collapse were not in order: start again,
        // renumbering from the first byte.
        Err(Restart) => Rewrite::new(sql, true).run().unwrap_or(Cow::Borrowed(sql)),
    }
}

struct Restart;

/// How deep parentheses may nest inside an `IN` item (`(?, ?)`, `lower(?)`) and a `VALUES`
/// row (`(?, (SELECT id FROM t WHERE k = ?))`) that is collapsed. Deeper ones are left as
/// they are: looking ahead no further keeps each byte looked at a bounded number of times,
/// however deeply lists nest.
const ITEM_DEPTH: usize = 1;
const ROW_DEPTH: usize = 2;

/// The state of one pass. Output is only allocated at the first edit; up to then `sql` is the
/// output.
struct Rewrite<'a> {
    sql: &'a str,
    out: Option<String>,
    /// `sql[..copied]` is accounted for in `out`.
    copied: usize,
    numbers: Numbers<'a>,
}

impl<'a> Rewrite<'a> {
    fn new(sql: &'a str, renumber_all: bool) -> Self {
        Rewrite {
            sql,
            out: renumber_all.then(|| String::with_capacity(sql.len())),
            copied: 0,
            numbers: Numbers {
                map: renumber_all.then(Default::default),
                ..Numbers::default()
            },
        }
    }

    fn run(mut self) -> Result<Cow<'a, str>, Restart> {
        let mut lexer = Lexer::new(self.sql);
        let mut previous: Option<Token> = None;
        // Where a kept item ends, and where the items collapsed after it end.
        let mut skips: Vec<(usize, usize)> = Vec::new();
        while let Some(token) = lexer.next() {
            match token.kind {
                Kind::Placeholder(_) => self.placeholder(token)?,
                Kind::LParen => {
                    if let Some(skip) = self.collapsible(previous, token) {
                        skips.push(skip);
                    }
                }
                _ => {}
            }
            if let Some(&(keep_end, skip_end)) = skips.last()
                && token.end == keep_end
            {
                skips.pop();
                if self.numbers.map.is_none() && self.numbers.out_of_order {
                    return Err(Restart);
                }
                self.numbers.map.get_or_insert_with(Default::default);
                self.replace(keep_end, skip_end, "");
                lexer = Lexer::at(self.sql, skip_end);
            }
            previous = Some(token);
        }
        Ok(match self.out {
            None => Cow::Borrowed(self.sql),
            Some(mut out) => {
                out.push_str(&self.sql[self.copied..]);
                Cow::Owned(out)
            }
        })
    }

    fn replace(&mut self, start: usize, end: usize, with: &str) {
        let out = self
            .out
            .get_or_insert_with(|| String::with_capacity(self.sql.len()));
        out.push_str(&self.sql[self.copied..start]);
        out.push_str(with);
        self.copied = end;
    }

    /// Renumbers a placeholder that ends in a number: `$1`, `?1`, and also names such as
    /// `:p1`, which code that builds lists tends to number.
    fn placeholder(&mut self, token: Token) -> Result<(), Restart> {
        let text = &self.sql[token.start..token.end];
        let split = text.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        let (prefix, digits) = text.split_at(split);
        let Ok(number) = digits.parse::<u64>() else {
            return Ok(());
        };
        if let Some(new) = self.numbers.renumber(prefix, number)
            && new != number
        {
            let mut text = String::new();
            let _ = write!(text, "{new}");
            self.replace(token.start + split, token.end, &text);
        }
        Ok(())
    }

    /// At an opening parenthesis: if it starts an `IN` list or the first row of a `VALUES`
    /// whose following items have its shape, where the first item ends and where the last
    /// item of the same shape ends.
    fn collapsible(&self, previous: Option<Token>, open: Token) -> Option<(usize, usize)> {
        let word = previous.filter(|t| t.kind == Kind::Word)?;
        let word = &self.sql[word.start..word.end];
        if word.eq_ignore_ascii_case("in") {
            let first = self.item(open.end)?;
            if !self.has_placeholder(first) {
                return None;
            }
            let mut end = first.1;
            let mut count = 1;
            loop {
                let mut after = Lexer::at(self.sql, end);
                match after.next()?.kind {
                    Kind::RParen if count > 1 => return Some((first.1, end)),
                    Kind::Comma => end = self.same_shape(first, after.pos(), true)?,
                    _ => return None,
                }
                count += 1;
            }
        } else if word.eq_ignore_ascii_case("values") {
            let first = (open.start, self.group_end(open.end)?);
            let mut end = first.1;
            loop {
                let mut after = Lexer::at(self.sql, end);
                let comma = after.next();
                let open = after.next();
                let row = match (comma, open) {
                    (Some(c), Some(o)) if c.kind == Kind::Comma && o.kind == Kind::LParen => {
                        self.same_shape(first, c.end, false)
                    }
                    _ => None,
                };
                match row {
                    Some(row_end) => end = row_end,
                    None if end > first.1 => return Some((first.1, end)),
                    None => return None,
                }
            }
        } else {
            None
        }
    }

    /// The item of a list that starts at `start`: up to a comma or closing parenthesis at its
    /// own depth. `None` for an empty item, an unclosed list, or an item nested deeper than
    /// [`ITEM_DEPTH`].
    fn item(&self, start: usize) -> Option<(usize, usize)> {
        let mut depth = 0usize;
        let mut end = None;
        for token in Lexer::at(self.sql, start) {
            match token.kind {
                Kind::LParen if depth == ITEM_DEPTH => return None,
                Kind::LParen => depth += 1,
                Kind::RParen | Kind::Comma if depth == 0 => {
                    return end.map(|end| (start, end));
                }
                Kind::RParen => depth -= 1,
                _ => {}
            }
            end = Some(token.end);
        }
        None
    }

    /// The end of the closing parenthesis that matches an opening one ending at `start`;
    /// `None` if unclosed or nested deeper than [`ROW_DEPTH`].
    fn group_end(&self, start: usize) -> Option<usize> {
        let mut depth = 0usize;
        for token in Lexer::at(self.sql, start) {
            match token.kind {
                Kind::LParen if depth == ROW_DEPTH => return None,
                Kind::LParen => depth += 1,
                Kind::RParen if depth == 0 => return Some(token.end),
                Kind::RParen => depth -= 1,
                _ => {}
            }
        }
        None
    }

    fn has_placeholder(&self, (start, end): (usize, usize)) -> bool {
        Lexer::at(self.sql, start)
            .take_while(|t| t.end <= end)
            .any(|t| matches!(t.kind, Kind::Placeholder(_)))
    }

    /// If the tokens from `start` have the shape of `first`, where they end. A list item must
    /// also be followed by what ends an item (`in_list`); a parenthesised row ends by itself.
    fn same_shape(&self, first: (usize, usize), start: usize, in_list: bool) -> Option<usize> {
        let mut other = Lexer::at(self.sql, start);
        let mut end = start;
        for a in Lexer::at(self.sql, first.0).take_while(|t| t.end <= first.1) {
            let b = other.next()?;
            let same = match (a.kind, b.kind) {
                (Kind::Placeholder(x), Kind::Placeholder(y)) => x == y,
                (x, y) => x == y && self.sql[a.start..a.end] == self.sql[b.start..b.end],
            };
            if !same {
                return None;
            }
            end = b.end;
        }
        if !in_list {
            return Some(end);
        }
        match other.next()?.kind {
            Kind::Comma | Kind::RParen => Some(end),
            _ => None,
        }
    }
}

/// Renumbering of placeholders that end in a number, by the prefix before the number. Before
/// the first collapse, `$n` and `?n` are left alone as long as they appear in order (each new
/// number one more than the largest so far), which is what renumbering would give anyway;
/// after it, each new number of a prefix gets the next free one. Numbered names before the
/// first collapse are not tracked: they make the pass start again, renumbering everything.
#[derive(Default)]
struct Numbers<'a> {
    /// The largest number seen so far of `$n` and of `?n`.
    largest: [u64; 2],
    /// Numbers up to this were seen before the first collapse and keep their value.
    kept: [u64; 2],
    out_of_order: bool,
    /// From the first collapse on.
    map: Option<Renumbered<'a>>,
}

/// The new number of each old one, and the last one given out, by prefix.
#[derive(Default)]
struct Renumbered<'a> {
    new: HashMap<(&'a str, u64), u64>,
    last: HashMap<&'a str, u64>,
}

impl<'a> Numbers<'a> {
    fn renumber(&mut self, prefix: &'a str, number: u64) -> Option<u64> {
        let sigil = match prefix {
            "$" => Some(0),
            "?" => Some(1),
            _ => None,
        };
        let Some(Renumbered { new, last }) = &mut self.map else {
            match sigil {
                Some(i) if number == self.largest[i] + 1 => self.largest[i] = number,
                Some(i) if number <= self.largest[i] => {}
                _ => self.out_of_order = true,
            }
            self.kept = self.largest;
            return None;
        };
        if let Some(i) = sigil
            && number <= self.kept[i]
        {
            return Some(number);
        }
        let last = last
            .entry(prefix)
            .or_insert_with(|| sigil.map_or(0, |i| self.kept[i]));
        Some(*new.entry((prefix, number)).or_insert_with(|| {
            *last += 1;
            *last
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collapses_in_lists_and_values_rows() {
        let cases = [
            ("a IN ($1, $2, $3)", "a IN ($1)"),
            (
                "VALUES (?, (SELECT id FROM t WHERE k = ?)), (?, (SELECT id FROM t WHERE k = ?))",
                "VALUES (?, (SELECT id FROM t WHERE k = ?))",
            ),
            ("a IN (?, ?)", "a IN (?)"),
            ("a NOT IN (?1, ?2) AND b = ?3", "a NOT IN (?1) AND b = ?2"),
            ("a IN (:a, :b)", "a IN (:a)"),
            (
                "a IN (:p1, :p2) AND b = :p3 AND c = :q7",
                "a IN (:p1) AND b = :p2 AND c = :q1",
            ),
            (
                "x = :p1 AND a IN (:p2, :p3) AND b = :p4",
                "x = :p1 AND a IN (:p2) AND b = :p3",
            ),
            ("a IN (@a, @b, @c)", "a IN (@a)"),
            ("(a, b) IN ((?, ?), (?, ?))", "(a, b) IN ((?, ?))"),
            ("a IN ($1::int, $2::int)", "a IN ($1::int)"),
            ("VALUES (?, ?), (?, ?), (?, ?)", "VALUES (?, ?)"),
            (
                "VALUES ($1, now()), ($2, now()) RETURNING id, $3",
                "VALUES ($1, now()) RETURNING id, $2",
            ),
            ("a IN ($1, $2) OR b IN ($3, $4)", "a IN ($1) OR b IN ($2)"),
            (
                "x = $1 AND a IN ($2, $3) AND y = $1",
                "x = $1 AND a IN ($2) AND y = $1",
            ),
        ];
        for (sql, want) in cases {
            assert_eq!(cache_key(sql), want, "{sql}");
        }
    }

    #[test]
    fn leaves_everything_else_borrowed() {
        for sql in [
            "a IN ($1)",
            "a IN (1, 2)",
            "a IN (?, 1)",
            "f(?, ?)",
            "VALUES (?, ?)",
            "VALUES (1, 'a'), (2, 'b')",
            "VALUES (?, ?), (?)",
            "a IN (f(g(?)), f(g(?)))",
            "VALUES (((((?))))), (((((?)))))",
            "SELECT 'IN (?, ?)' -- IN (?, ?)\n /* IN (?, ?) */",
            "a IN (?, ?",
            "a IN (",
            "",
        ] {
            assert!(matches!(cache_key(sql), Cow::Borrowed(_)), "{sql}");
        }
    }

    #[test]
    fn renumbers_from_the_start_when_numbers_are_out_of_order() {
        assert_eq!(
            cache_key("b = $3 AND a IN ($1, $2)"),
            "b = $1 AND a IN ($2)"
        );
    }
}
