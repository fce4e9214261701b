//! The second pass: resolve the paths each module wrote (`crate::orders::create`,
//! `super::repo`, an imported name, a glob) to the module they lead into, as rustc would for
//! the common cases, without type information.

use std::collections::HashSet;

use crate::tree::Tree;

/// Where a path leads.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// An item in a module of a scanned crate: the full path from the crate's name.
    Local(Vec<String>),
    /// Something in another crate.
    External(String),
}

/// Crates that are part of every program, not dependencies worth a `mod:` artifact.
const SYSROOT: &[&str] = &["std", "core", "alloc", "proc_macro", "test"];

/// Lower-case names that start paths but are not crates: `u32::MAX`, `str::from_utf8`.
const PRIMITIVES: &[&str] = &[
    "bool", "char", "str", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64",
    "i128", "isize", "f32", "f64",
];

/// Paths through imports go this deep at most (imports can refer to each other in a loop).
const MAX_DEPTH: u8 = 8;

pub(crate) struct Resolver<'a> {
    tree: &'a Tree,
    crates: HashSet<&'a str>,
}

impl<'a> Resolver<'a> {
    pub(crate) fn new(tree: &'a Tree) -> Self {
        // Only a library can be named from another crate: a test or binary crate called
        // `http` must not hide the external `http` crate from the others.
        let crates = tree
            .modules
            .iter()
            .filter(|m| m.parent.is_none() && m.file.file_name().is_some_and(|f| f == "lib.rs"))
            .map(|m| m.krate.as_str())
            .collect();
        Resolver { tree, crates }
    }

    fn segments(&self, m: usize) -> Vec<String> {
        self.tree.modules[m]
            .path
            .split("::")
            .map(str::to_owned)
            .collect()
    }

    fn local(&self, m: usize, rest: &[String]) -> Target {
        let mut path = self.segments(m);
        path.extend_from_slice(rest);
        Target::Local(path)
    }

    /// Resolves `path` as written in module `m`.
    pub(crate) fn resolve(&self, m: usize, path: &[String]) -> Option<Target> {
        self.resolve_at(m, path, 0, true)
    }

    /// `globs`: whether names may come from the module's glob imports. A glob's own path is
    /// resolved without them: resolving it through the other globs, each through the others
    /// again, grew as k^depth (a module with 7 external globs took over a minute, a real crate
    /// never finished), for a case (`use a::*; use b::*` with `b` from `a`) that barely occurs.
    fn resolve_at(&self, m: usize, path: &[String], depth: u8, globs: bool) -> Option<Target> {
        let (first, rest) = path.split_first()?;
        if depth > MAX_DEPTH {
            return None;
        }
        let module = &self.tree.modules[m];
        match first.as_str() {
            "::" => {
                let (krate, _) = rest.split_first()?;
                self.outside(krate, rest)
            }
            "crate" => {
                let mut path = vec![module.krate.clone()];
                path.extend_from_slice(rest);
                Some(Target::Local(path))
            }
            "self" => Some(self.local(m, rest)),
            "super" => {
                let mut at = m;
                let mut i = 0;
                while path.get(i).is_some_and(|s| s == "super") {
                    at = self.tree.modules[at].parent?;
                    i += 1;
                }
                Some(self.local(at, &path[i..]))
            }
            "Self" => None,
            _ => {
                if module.children.contains_key(first) {
                    return Some(self.local(m, path));
                }
                if let Some((_, target)) =
                    module.items.uses.iter().find(|(alias, _)| alias == first)
                {
                    let base = if target.len() == 1 && target[0] == *first {
                        // `use serde;` names the crate itself.
                        self.outside(first, path)?
                    } else {
                        self.resolve_at(m, target, depth + 1, globs)?
                    };
                    return Some(match base {
                        Target::Local(mut full) => {
                            full.extend_from_slice(rest);
                            Target::Local(full)
                        }
                        external => external,
                    });
                }
                for glob in module.items.globs.iter().filter(|_| globs) {
                    let Some(Target::Local(g)) = self.resolve_at(m, glob, depth + 1, false) else {
                        continue;
                    };
                    let Some(&gm) = self.tree.by_path.get(&g.join("::")) else {
                        continue;
                    };
                    let holder = &self.tree.modules[gm];
                    if holder.children.contains_key(first)
                        || holder.items.uses.iter().any(|(alias, _)| alias == first)
                    {
                        return self.resolve_at(gm, path, depth + 1, true);
                    }
                }
                self.outside(first, path)
            }
        }
    }

    /// A path that starts with a name no module in scope defines: another scanned crate, or
    /// (when it looks like a crate's name) an external one.
    fn outside(&self, first: &str, path: &[String]) -> Option<Target> {
        if self.crates.contains(first) {
            let start = usize::from(path.first().is_some_and(|s| s == "::"));
            return Some(Target::Local(path[start..].to_vec()));
        }
        let crate_like = first
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && first.starts_with(|c: char| c.is_ascii_lowercase());
        if crate_like && !SYSROOT.contains(&first) && !PRIMITIVES.contains(&first) {
            Some(Target::External(first.to_owned()))
        } else {
            None
        }
    }

    /// The module a local path leads into: its longest prefix that is a module, with the
    /// number of segments that prefix has.
    pub(crate) fn module_of(&self, path: &[String]) -> Option<(usize, usize)> {
        let mut key = path.join("::");
        let mut n = path.len();
        loop {
            if let Some(&m) = self.tree.by_path.get(&key) {
                return Some((m, n));
            }
            n -= 1;
            if n == 0 {
                return None;
            }
            key.truncate(key.len() - path[n].len() - 2);
        }
    }

    /// The function a handler path names, as (module, name), following re-exports.
    pub(crate) fn handler(&self, m: usize, path: &[String]) -> Option<(usize, String)> {
        self.handler_at(m, path, 0)
    }

    fn handler_at(&self, m: usize, path: &[String], depth: u8) -> Option<(usize, String)> {
        if depth > MAX_DEPTH {
            return None;
        }
        let module = &self.tree.modules[m];
        let imported = |name: &String| module.items.uses.iter().any(|(alias, _)| alias == name);
        let target = match path {
            [name] if !imported(name) => self.local(m, path),
            _ => self.resolve_at(m, path, depth, true)?,
        };
        let Target::Local(full) = target else {
            return None;
        };
        let (owner, n) = self.module_of(&full)?;
        let [name] = &full[n..] else { return None };
        let holder = &self.tree.modules[owner];
        if holder.items.idents.contains(name) || holder.functions.contains_key(name) {
            Some((owner, name.clone()))
        } else if holder.items.uses.iter().any(|(alias, _)| alias == name) {
            self.handler_at(owner, std::slice::from_ref(name), depth + 1)
        } else {
            None
        }
    }
}
