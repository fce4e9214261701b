//! The first pass: follow `mod` declarations from each crate root through the file tree, parse
//! every file with `syn`, and collect what each module holds (functions, imports, paths,
//! handlers, types) without resolving any name yet.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::punctuated::Punctuated;
use syn::visit::{self, Visit};
use syn::{Attribute, Expr, Ident, Item, ItemMod, LitStr, Meta, Token, UseTree};

/// A module as the first pass saw it. Paths are kept as written; see `resolve`.
#[derive(Debug, Default)]
pub(crate) struct Module {
    /// `shop::orders`, the same path `module_path!()` gives inside it.
    pub(crate) path: String,
    /// The crate's name: what `crate::` means inside this module.
    pub(crate) krate: String,
    pub(crate) parent: Option<usize>,
    /// The file the module's items are in (an inline module's is its parent's).
    pub(crate) file: PathBuf,
    /// The file the module would have if it were not inline: what classification looks at.
    pub(crate) logical: PathBuf,
    /// Under `#[cfg(test)]`.
    pub(crate) test: bool,
    pub(crate) children: BTreeMap<String, usize>,
    /// Function names with the file each is in (a library and a binary of the same name
    /// share one root module, but not one file).
    pub(crate) functions: BTreeMap<String, PathBuf>,
    pub(crate) items: Collected,
}

/// What a module's items hold, before names are resolved.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    /// `use` imports: the name they bind and the path they bind it to.
    pub(crate) uses: Vec<(String, Vec<String>)>,
    /// `use path::*` imports.
    pub(crate) globs: Vec<Vec<String>>,
    /// Paths of two segments or more (and every `use` path): candidate dependencies.
    pub(crate) refs: Vec<Vec<String>>,
    /// Paths given as handlers to `Router::route` (through `get(..)`, `post(..)`, …).
    pub(crate) handlers: Vec<Vec<String>>,
    /// Function names, as the span of an instrumented function would name them.
    pub(crate) functions: BTreeSet<String>,
    /// Function names as Rust code names them (paths to handlers use these, whatever
    /// `#[instrument(name = ..)]` calls the span).
    pub(crate) idents: BTreeSet<String>,
    /// Defines a type deriving `FromRow`.
    pub(crate) from_row: bool,
    /// Defines a type or trait whose name ends in `Repo`/`repo`.
    pub(crate) repo_type: bool,
}

/// Builds the module tree of every crate given to it.
#[derive(Debug, Default)]
pub(crate) struct Tree {
    pub(crate) modules: Vec<Module>,
    pub(crate) by_path: HashMap<String, usize>,
    /// Every source file read, in the order read.
    pub(crate) files: Vec<PathBuf>,
    pub(crate) warnings: Vec<String>,
}

/// Where the files of a module's `mod name;` declarations are.
struct Dirs {
    /// The directory of the file being read: `#[path]` outside inline modules is relative to it.
    file_dir: PathBuf,
    /// Where child modules' files go: the file's directory for `mod.rs`, `lib.rs` and crate
    /// roots, `dir/stem/` for other files, plus one directory per enclosing inline module.
    children: PathBuf,
    /// Inside an inline module, where `#[path]` is relative to `children`.
    inline: bool,
}

impl Tree {
    /// Reads the crate rooted at `root` (`src/lib.rs`, `src/main.rs`, `tests/api.rs`, …).
    pub(crate) fn add_crate(&mut self, name: &str, root: &Path) {
        let Some(ast) = self.parse(root) else { return };
        let dir = root.parent().unwrap_or(Path::new("")).to_path_buf();
        let idx = self.module(name, name, None, root, root.to_path_buf(), false);
        let dirs = Dirs {
            file_dir: dir.clone(),
            children: dir,
            inline: false,
        };
        self.walk(idx, &ast.items, &dirs, root);
    }

    fn parse(&mut self, file: &Path) -> Option<syn::File> {
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) => {
                self.warnings
                    .push(format!("{}: cannot read: {e}; skipped", file.display()));
                return None;
            }
        };
        self.files.push(file.to_path_buf());
        match syn::parse_file(&text) {
            Ok(ast) => Some(ast),
            Err(e) => {
                self.warnings
                    .push(format!("{}: does not parse: {e}; skipped", file.display()));
                None
            }
        }
    }

    /// The module at `path`, created if new. A path seen twice (a module behind two `cfg`s, a
    /// library and a binary of the same name) is one module, as it is one `mod:` ID.
    fn module(
        &mut self,
        path: &str,
        krate: &str,
        parent: Option<usize>,
        file: &Path,
        logical: PathBuf,
        test: bool,
    ) -> usize {
        if let Some(&idx) = self.by_path.get(path) {
            return idx;
        }
        let idx = self.modules.len();
        self.modules.push(Module {
            path: path.to_owned(),
            krate: krate.to_owned(),
            parent,
            file: file.to_path_buf(),
            logical,
            test,
            ..Module::default()
        });
        self.by_path.insert(path.to_owned(), idx);
        idx
    }

    fn walk(&mut self, idx: usize, items: &[Item], dirs: &Dirs, file: &Path) {
        let mut collector = Collector::default();
        for item in items {
            match item {
                Item::Mod(m) => self.child(idx, m, dirs, file),
                other => collector.visit_item(other),
            }
        }
        let module = &mut self.modules[idx];
        let c = collector.out;
        for name in c.functions {
            module
                .functions
                .entry(name)
                .or_insert_with(|| file.to_path_buf());
        }
        let into = &mut module.items;
        into.idents.extend(c.idents);
        into.uses.extend(c.uses);
        into.globs.extend(c.globs);
        into.refs.extend(c.refs);
        into.handlers.extend(c.handlers);
        into.from_row |= c.from_row;
        into.repo_type |= c.repo_type;
    }

    /// Sorts and deduplicates what each module refers to: a path written fifty times is
    /// resolved once.
    pub(crate) fn finish(&mut self) {
        for module in &mut self.modules {
            module.items.refs.sort_unstable();
            module.items.refs.dedup();
            module.items.handlers.sort_unstable();
            module.items.handlers.dedup();
        }
    }

    /// Whether `file` is already being read further up the module tree from `parent`: a
    /// `#[path]` loop, which rustc rejects and which would otherwise never end here.
    fn is_ancestor_file(&self, parent: usize, file: &Path) -> bool {
        // Compared canonical: `#[path = "../src/lib.rs"]` names a file read above under
        // another spelling.
        let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        let file = canonical(file);
        let mut at = Some(parent);
        while let Some(m) = at {
            if canonical(&self.modules[m].file) == file {
                return true;
            }
            at = self.modules[m].parent;
        }
        false
    }

    fn child(&mut self, parent: usize, m: &ItemMod, dirs: &Dirs, file: &Path) {
        let name = m.ident.to_string();
        let plain = m.ident.unraw().to_string();
        let path = format!("{}::{name}", self.modules[parent].path);
        let krate = self.modules[parent].krate.clone();
        let test = self.modules[parent].test || m.attrs.iter().any(cfg_requires_test);
        let path_attr = path_attribute(&m.attrs);
        let logical = dirs.children.join(format!("{plain}.rs"));
        match &m.content {
            Some((_, items)) => {
                let idx = self.module(&path, &krate, Some(parent), file, logical, test);
                self.link(parent, &name, idx);
                let children = dirs.children.join(path_attr.as_deref().unwrap_or(&plain));
                let inner = Dirs {
                    file_dir: dirs.file_dir.clone(),
                    children,
                    inline: true,
                };
                self.walk(idx, items, &inner, file);
            }
            None => {
                let (child_file, mod_rs) = match &path_attr {
                    // A file named by `#[path]` owns its directory, as `mod.rs` does.
                    Some(p) if dirs.inline => (dirs.children.join(p), true),
                    Some(p) => (dirs.file_dir.join(p), true),
                    None => {
                        let flat = dirs.children.join(format!("{plain}.rs"));
                        let nested = dirs.children.join(&plain).join("mod.rs");
                        if flat.is_file() {
                            (flat, false)
                        } else if nested.is_file() {
                            (nested, true)
                        } else {
                            // Behind a `cfg` for another platform, or generated: not an
                            // error, but worth a word when nothing explains it.
                            if !m.attrs.iter().any(|a| a.path().is_ident("cfg")) {
                                self.warnings.push(format!(
                                    "{}: no file for `mod {name};` (looked for {} and {}); skipped",
                                    file.display(),
                                    flat.display(),
                                    nested.display()
                                ));
                            }
                            return;
                        }
                    }
                };
                if self.is_ancestor_file(parent, &child_file) {
                    self.warnings.push(format!(
                        "{}: `mod {name};` loads {} again, a module loop; skipped",
                        file.display(),
                        child_file.display()
                    ));
                    return;
                }
                let Some(ast) = self.parse(&child_file) else {
                    return;
                };
                let idx = self.module(
                    &path,
                    &krate,
                    Some(parent),
                    &child_file,
                    child_file.clone(),
                    test,
                );
                self.link(parent, &name, idx);
                let file_dir = child_file.parent().unwrap_or(Path::new("")).to_path_buf();
                let children = if mod_rs {
                    file_dir.clone()
                } else {
                    file_dir.join(&plain)
                };
                let inner = Dirs {
                    file_dir,
                    children,
                    inline: false,
                };
                self.walk(idx, &ast.items, &inner, &child_file);
            }
        }
    }

    fn link(&mut self, parent: usize, name: &str, child: usize) {
        self.modules[parent].children.insert(name.to_owned(), child);
    }
}

/// Whether a `#[cfg(..)]` attribute holds only under `cfg(test)`.
fn cfg_requires_test(attr: &Attribute) -> bool {
    fn requires(meta: &Meta) -> bool {
        match meta {
            Meta::Path(p) => p.is_ident("test"),
            Meta::List(list) => {
                let Ok(inner) =
                    list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
                else {
                    return false;
                };
                if list.path.is_ident("all") {
                    inner.iter().any(requires)
                } else if list.path.is_ident("any") {
                    !inner.is_empty() && inner.iter().all(requires)
                } else {
                    false
                }
            }
            Meta::NameValue(_) => false,
        }
    }
    attr.path().is_ident("cfg") && attr.parse_args::<Meta>().is_ok_and(|m| requires(&m))
}

/// The string of a `#[path = "…"]` attribute.
fn path_attribute(attrs: &[Attribute]) -> Option<String> {
    attrs.iter().find_map(|a| match &a.meta {
        Meta::NameValue(nv) if nv.path.is_ident("path") => match &nv.value {
            Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Some(s.value()),
            _ => None,
        },
        _ => None,
    })
}

/// The span name `#[instrument(name = "…")]` gives a function, if it renames it.
fn instrument_name(attrs: &[Attribute]) -> Option<String> {
    let attr = attrs.iter().find(|a| {
        a.path()
            .segments
            .last()
            .is_some_and(|s| s.ident == "instrument")
    })?;
    let Meta::List(list) = &attr.meta else {
        return None;
    };
    list.parse_args_with(|input: ParseStream<'_>| {
        let mut name = None;
        while !input.is_empty() {
            // tracing also takes the name as a bare string literal: `#[instrument("name")]`.
            if input.peek(LitStr) {
                name = Some(input.parse::<LitStr>()?.value());
                continue;
            }
            if input.peek(Ident::peek_any) && input.peek2(Token![=]) {
                let key = input.call(Ident::parse_any)?;
                input.parse::<Token![=]>()?;
                if key == "name" && input.peek(LitStr) {
                    name = Some(input.parse::<LitStr>()?.value());
                    continue;
                }
            }
            // Anything else (`skip(..)`, `fields(..)`, `err`) is one token tree to step over.
            input.step(|cursor| match cursor.token_tree() {
                Some((_, rest)) => Ok(((), rest)),
                None => Err(cursor.error("unexpected end")),
            })?;
        }
        Ok(name)
    })
    .ok()
    .flatten()
}

fn function_name(attrs: &[Attribute], ident: &Ident) -> String {
    // tracing-attributes names a span `sig.ident.to_string()`, which keeps a raw
    // identifier's `r#`; a name given as a string literal overrides it. (`name = CONST` is
    // not known without evaluating: the function's own name is used.)
    instrument_name(attrs).unwrap_or_else(|| ident.to_string())
}

fn derives_from_row(attrs: &[Attribute]) -> bool {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("derive"))
        .any(|a| {
            a.parse_args_with(Punctuated::<syn::Path, Token![,]>::parse_terminated)
                .is_ok_and(|paths| {
                    paths
                        .iter()
                        .any(|p| p.segments.last().is_some_and(|s| s.ident == "FromRow"))
                })
        })
}

fn is_repo_name(ident: &Ident) -> bool {
    let name = ident.unraw().to_string();
    name.ends_with("Repo") || name.ends_with("repo")
}

fn segments(path: &syn::Path) -> Vec<String> {
    let mut out = Vec::with_capacity(path.segments.len() + 1);
    if path.leading_colon.is_some() {
        out.push("::".to_owned());
    }
    out.extend(path.segments.iter().map(|s| s.ident.to_string()));
    out
}

/// axum's method routers: `get(handler)`, `get(a).post(b)`, `on(filter, handler)`.
const METHOD_ROUTERS: &[&str] = &[
    "get", "post", "put", "delete", "patch", "head", "options", "trace", "connect", "any",
];

#[derive(Default)]
struct Collector {
    out: Collected,
}

impl Collector {
    fn use_tree(&mut self, tree: &UseTree, prefix: &mut Vec<String>) {
        match tree {
            UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(&p.tree, prefix);
                prefix.pop();
            }
            UseTree::Name(n) => {
                let (alias, path) = if n.ident == "self" {
                    (prefix.last().cloned().unwrap_or_default(), prefix.clone())
                } else {
                    let mut path = prefix.clone();
                    path.push(n.ident.to_string());
                    (n.ident.to_string(), path)
                };
                self.bind(alias, path);
            }
            UseTree::Rename(r) => {
                let mut path = prefix.clone();
                if r.ident != "self" {
                    path.push(r.ident.to_string());
                }
                self.bind(r.rename.to_string(), path);
            }
            UseTree::Glob(_) => {
                self.out.globs.push(prefix.clone());
                self.out.refs.push(prefix.clone());
            }
            UseTree::Group(g) => {
                for tree in &g.items {
                    self.use_tree(tree, prefix);
                }
            }
        }
    }

    fn bind(&mut self, alias: String, path: Vec<String>) {
        if path.is_empty() || path == ["::"] {
            return;
        }
        if alias != "_" && !alias.is_empty() {
            self.out.uses.push((alias, path.clone()));
        }
        self.out.refs.push(path);
    }

    fn function(&mut self, attrs: &[Attribute], ident: &Ident) {
        self.out.functions.insert(function_name(attrs, ident));
        self.out.idents.insert(ident.to_string());
    }

    fn type_def(&mut self, attrs: &[Attribute], ident: &Ident) {
        self.out.from_row |= derives_from_row(attrs);
        self.out.repo_type |= is_repo_name(ident);
    }

    fn handlers(&mut self, expr: &Expr) {
        let mut push = |e: Option<&Expr>| {
            if let Some(Expr::Path(p)) = e
                && p.qself.is_none()
            {
                self.out.handlers.push(segments(&p.path));
            }
        };
        match expr {
            Expr::Call(call) => {
                if let Expr::Path(f) = &*call.func {
                    let Some(last) = f.path.segments.last() else {
                        return;
                    };
                    if METHOD_ROUTERS.iter().any(|m| last.ident == m) {
                        call.args.iter().for_each(|a| push(Some(a)));
                    } else if last.ident == "on" {
                        push(call.args.iter().nth(1));
                    }
                }
            }
            Expr::MethodCall(call) => {
                if METHOD_ROUTERS.iter().any(|m| call.method == m) {
                    push(call.args.first());
                } else if call.method == "on" {
                    push(call.args.iter().nth(1));
                }
                self.handlers(&call.receiver);
            }
            Expr::Paren(p) => self.handlers(&p.expr),
            Expr::Group(g) => self.handlers(&g.expr),
            _ => {}
        }
    }
}

impl<'ast> Visit<'ast> for Collector {
    // Modules declared inside a function body are rare and not followed.
    fn visit_item_mod(&mut self, _: &'ast ItemMod) {}

    // `pub(in crate::a)` names a module but does not use it.
    fn visit_vis_restricted(&mut self, _: &'ast syn::VisRestricted) {}

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        let mut prefix = Vec::new();
        if u.leading_colon.is_some() {
            prefix.push("::".to_owned());
        }
        self.use_tree(&u.tree, &mut prefix);
    }

    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        self.function(&f.attrs, &f.sig.ident);
        visit::visit_item_fn(self, f);
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        // A method's span has its module's path, not its type's: `fn:shop::orders::insert`.
        self.function(&f.attrs, &f.sig.ident);
        visit::visit_impl_item_fn(self, f);
    }

    fn visit_trait_item_fn(&mut self, f: &'ast syn::TraitItemFn) {
        if f.default.is_some() {
            self.function(&f.attrs, &f.sig.ident);
        }
        visit::visit_trait_item_fn(self, f);
    }

    fn visit_item_struct(&mut self, s: &'ast syn::ItemStruct) {
        self.type_def(&s.attrs, &s.ident);
        visit::visit_item_struct(self, s);
    }

    fn visit_item_enum(&mut self, e: &'ast syn::ItemEnum) {
        self.type_def(&e.attrs, &e.ident);
        visit::visit_item_enum(self, e);
    }

    fn visit_item_trait(&mut self, t: &'ast syn::ItemTrait) {
        self.out.repo_type |= is_repo_name(&t.ident);
        visit::visit_item_trait(self, t);
    }

    fn visit_item_type(&mut self, t: &'ast syn::ItemType) {
        self.out.repo_type |= is_repo_name(&t.ident);
        visit::visit_item_type(self, t);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.segments.len() >= 2 {
            self.out.refs.push(segments(path));
        }
        visit::visit_path(self, path);
    }

    fn visit_item_macro(&mut self, m: &'ast syn::ItemMacro) {
        // A `macro_rules!` body is a pattern, not code of this module.
        if m.ident.is_none() {
            self.visit_macro(&m.mac);
        }
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.visit_path(&mac.path);
        // Most macros (`format!`, `assert_eq!`, `json!`-less ones) take expressions: read
        // them when they parse as such, so `println!("{}", crate::x::y())` counts.
        if let Ok(args) = mac.parse_body_with(Punctuated::<Expr, Token![,]>::parse_terminated) {
            for arg in &args {
                self.visit_expr(arg);
            }
        }
    }

    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        if call.method == "route" && call.args.len() == 2 {
            self.handlers(&call.args[1]);
        } else if call.method == "fallback"
            && call.args.len() == 1
            && let Expr::Path(p) = &call.args[0]
        {
            self.out.handlers.push(segments(&p.path));
        }
        visit::visit_expr_method_call(self, call);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(src: &str) -> Collected {
        let file = syn::parse_file(src).unwrap();
        let mut c = Collector::default();
        for item in &file.items {
            c.visit_item(item);
        }
        c.out
    }

    #[test]
    fn instrument_names_and_raw_identifiers() {
        let c = collect(
            r#"
            #[tracing::instrument(skip(pool), fields(order.id = %id), name = "place_order")]
            async fn create(pool: (), id: u64) {}
            #[instrument(err)]
            fn r#match() {}
            #[instrument("lit_name", skip_all)]
            fn unnamed_lit() {}
            impl Repo { fn insert(&self) { fn helper() {} } }
            trait T { fn required(&self); fn provided(&self) {} }
            "#,
        );
        let names: Vec<_> = c.functions.iter().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "helper",
                "insert",
                "lit_name",
                "place_order",
                "provided",
                "r#match"
            ]
        );
    }

    #[test]
    fn uses_flatten_with_aliases_and_globs() {
        let c = collect(
            "use crate::{orders::{self, create as make}, repo::*}; use ::serde::Serialize as _;",
        );
        assert_eq!(
            c.uses,
            [
                (
                    "orders".to_owned(),
                    vec!["crate".to_owned(), "orders".to_owned()]
                ),
                (
                    "make".to_owned(),
                    vec!["crate".to_owned(), "orders".to_owned(), "create".to_owned()]
                ),
            ]
        );
        assert_eq!(c.globs, [vec!["crate".to_owned(), "repo".to_owned()]]);
        assert!(c.refs.contains(&vec![
            "::".to_owned(),
            "serde".to_owned(),
            "Serialize".to_owned()
        ]));
    }

    #[test]
    fn route_handlers_and_signals() {
        let c = collect(
            r#"
            #[derive(Debug, sqlx::FromRow)] struct Order;
            struct OrderRepo;
            fn app() -> Router {
                Router::new()
                    .route("/orders", get(orders::list).post(crate::handlers::create))
                    .route("/x", axum::routing::on(MethodFilter::PUT, put_x))
                    .fallback(not_found)
            }
            "#,
        );
        assert!(c.from_row && c.repo_type);
        let mut handlers: Vec<String> = c.handlers.iter().map(|h| h.join("::")).collect();
        handlers.sort();
        assert_eq!(
            handlers,
            [
                "crate::handlers::create",
                "not_found",
                "orders::list",
                "put_x"
            ]
        );
    }

    #[test]
    fn cfg_test_predicates() {
        let m: ItemMod = syn::parse_str("#[cfg(all(test, feature = \"x\"))] mod t {}").unwrap();
        assert!(m.attrs.iter().any(cfg_requires_test));
        let m: ItemMod = syn::parse_str("#[cfg(any(test, feature = \"x\"))] mod t {}").unwrap();
        assert!(!m.attrs.iter().any(cfg_requires_test));
        let m: ItemMod = syn::parse_str("#[cfg(not(test))] mod t {}").unwrap();
        assert!(!m.attrs.iter().any(cfg_requires_test));
    }
}
