//! The walk over sqlparser's syntax tree behind [`analyze`](super::analyze).
//!
//! Expressions are walked with an explicit stack: the parser builds operator chains
//! (`a OR b OR …`) in a loop, so their depth is not bounded by its recursion limit. Everything
//! else (subqueries, nested joins, set operations' right sides) recurses, bounded by that
//! limit and, as a second guard, by [`MAX_DEPTH`].

use sqlparser::ast::{
    AccessExpr, AlterTableOperation, AlterViewOperation, Assignment, AssignmentTarget, CopySource,
    CreateTableLikeKind, Cte, Delete, Distinct, Expr, FromTable, Function, FunctionArg,
    FunctionArgExpr, FunctionArgumentClause, FunctionArguments, GroupByExpr, GroupByWithModifier,
    Ident, InTarget, Insert, JoinConstraint, JoinOperator, JsonPathElem, ListAggOnOverflow, Merge,
    MergeAction, MergeInsertKind, MergeUpdateKind, NamedWindowExpr, ObjectName, ObjectNamePart,
    ObjectType, OnConflictAction, OnInsert, OrderByExpr, OrderByKind, PipeOperator,
    PivotValueSource, Query, RenameTableNameKind, Select, SelectItem,
    SelectItemQualifiedWildcardKind, SetExpr, Statement, Subscript, TableFactor, TableObject,
    TableVersion, TableWithJoins, TopQuantity, Update, UpdateTableFromKind, Use,
    WildcardAdditionalOptions, WindowFrameBound, WindowSpec, WindowType, With,
};

use super::{
    Analysis, AnalyzeError, ColumnName, Dialect, Effect, Reason, Rows, TableName, Wildcard,
};

/// How deep the walk may recurse. The parser's recursion limit keeps real input far below.
const MAX_DEPTH: usize = 200;

struct TooDeep;

type Walk<T = ()> = Result<T, TooDeep>;

pub(super) fn analyze(
    statements: &[Statement],
    dialect: Dialect,
) -> Result<Analysis, AnalyzeError> {
    let mut walker = Walker {
        dialect,
        sinks: Vec::new(),
        roots: Vec::new(),
        current: 0,
        ctes: Vec::new(),
        writes: Vec::new(),
        columns: Vec::new(),
        default_schema: None,
        depth: 0,
    };
    let mut rows = None;
    for (i, statement) in statements.iter().enumerate() {
        walker.current = walker.sink();
        walker.roots.push(walker.current);
        rows = walker
            .statement(statement, i + 1 == statements.len())
            .map_err(|TooDeep| AnalyzeError::from(Reason::TooDeep(MAX_DEPTH)))?;
    }
    let mut reads = walker.reads();
    let mut writes = walker.writes;
    let mut columns = walker.columns;
    for list in [&mut reads, &mut writes] {
        list.sort_unstable();
        list.dedup();
    }
    columns.sort_unstable();
    columns.dedup();
    Ok(Analysis {
        reads: reads.into(),
        writes: writes.into(),
        written_columns: columns.into(),
        statements: statements.len(),
        rows,
    })
}

/// The tables read by one statement or one CTE body, and the CTEs it refers to. What a CTE
/// reads counts only if a statement reaches it.
#[derive(Default)]
struct Sink {
    tables: Vec<TableName>,
    ctes: Vec<usize>,
}

struct Walker {
    dialect: Dialect,
    sinks: Vec<Sink>,
    /// Sinks that run whether referred to or not: statements and data-modifying CTEs.
    roots: Vec<usize>,
    current: usize,
    /// CTE names in scope, innermost last, with their sink.
    ctes: Vec<(Box<str>, usize)>,
    writes: Vec<TableName>,
    columns: Vec<ColumnName>,
    /// From `USE`.
    default_schema: Option<Box<str>>,
    depth: usize,
}

/// A table name resolved: a CTE in scope, or a table.
enum Named {
    Cte(usize),
    Table(TableName),
}

/// An item of a `FROM` as a column qualifier can name it: by its alias, or by the table's
/// name when it has none. `table` is `None` for what is not a table (subquery, CTE, function).
struct Source {
    binding: Box<str>,
    table: Option<TableName>,
    aliased: bool,
}

impl Walker {
    fn sink(&mut self) -> usize {
        self.sinks.push(Sink::default());
        self.sinks.len() - 1
    }

    fn reads(&self) -> Vec<TableName> {
        let mut seen = vec![false; self.sinks.len()];
        let mut stack = self.roots.clone();
        let mut reads = Vec::new();
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            reads.extend(self.sinks[i].tables.iter().cloned());
            stack.extend(&self.sinks[i].ctes);
        }
        reads
    }

    fn enter(&mut self) -> Walk {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(TooDeep);
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    // ---- names ----

    fn table_name(&self, name: &ObjectName) -> Option<TableName> {
        let parts = &name.0;
        let last = ident(parts.last()?)?;
        let schema = match parts.len() {
            1 => self.default_schema.clone(),
            n => Some(fold(ident(&parts[n - 2])?)),
        };
        Some(TableName {
            schema,
            name: fold(last),
        })
    }

    fn named(&self, name: &ObjectName) -> Option<Named> {
        if let [ObjectNamePart::Identifier(only)] = name.0.as_slice() {
            let only = fold(only);
            if let Some((_, sink)) = self.ctes.iter().rev().find(|(n, _)| *n == only) {
                return Some(Named::Cte(*sink));
            }
        }
        self.table_name(name).map(Named::Table)
    }

    fn read(&mut self, name: &ObjectName) {
        match self.named(name) {
            Some(Named::Cte(sink)) => self.sinks[self.current].ctes.push(sink),
            Some(Named::Table(table)) => self.sinks[self.current].tables.push(table),
            None => {}
        }
    }

    fn read_table(&mut self, table: TableName) {
        self.sinks[self.current].tables.push(table);
    }

    fn write(&mut self, name: &ObjectName) -> Option<TableName> {
        let table = self.table_name(name)?;
        self.writes.push(table.clone());
        Some(table)
    }

    fn column(&mut self, table: &TableName, column: &Ident) {
        self.columns.push(ColumnName {
            table: table.clone(),
            column: fold(column),
        });
    }

    // ---- statements ----

    fn statement(&mut self, statement: &Statement, want_rows: bool) -> Walk<Option<Rows>> {
        match statement {
            Statement::Query(query) => return self.query(query, want_rows),
            Statement::Insert(insert) => return self.insert(insert, want_rows),
            Statement::Update(update) => return self.update(update, want_rows),
            Statement::Delete(delete) => return self.delete(delete, want_rows),
            Statement::Merge(merge) => self.merge(merge)?,
            Statement::CreateTable(create) => {
                if let Some(table) = self.write(&create.name) {
                    for column in &create.columns {
                        self.column(&table, &column.name);
                    }
                }
                if let Some(query) = &create.query {
                    self.query(query, false)?;
                }
                match &create.like {
                    Some(
                        CreateTableLikeKind::Parenthesized(like) | CreateTableLikeKind::Plain(like),
                    ) => self.read(&like.name),
                    None => {}
                }
                if let Some(clone) = &create.clone {
                    self.read(clone);
                }
            }
            Statement::CreateView(view) => {
                self.write(&view.name);
                self.query(&view.query, false)?;
            }
            Statement::CreateVirtualTable { name, .. } => {
                self.write(name);
            }
            Statement::AlterTable(alter) => {
                if let Some(table) = self.write(&alter.name) {
                    for operation in &alter.operations {
                        self.alter_table(&table, operation);
                    }
                }
            }
            Statement::AlterView(alter) => {
                self.write(&alter.name);
                match &alter.operation {
                    AlterViewOperation::As { query, .. } => self.query(query, false).map(drop)?,
                    AlterViewOperation::RenameTo { new_name } => drop(self.write(new_name)),
                    _ => {}
                }
            }
            Statement::RenameTable(renames) => {
                for rename in renames {
                    self.write(&rename.old_name);
                    self.write(&rename.new_name);
                }
            }
            Statement::Drop {
                object_type,
                names,
                table,
                ..
            } => match object_type {
                ObjectType::Table
                | ObjectType::View
                | ObjectType::MaterializedView
                | ObjectType::ForeignTable => {
                    for name in names {
                        self.write(name);
                    }
                }
                ObjectType::Index => {
                    if let Some(table) = table {
                        self.write(table);
                    }
                }
                _ => {}
            },
            Statement::Truncate(truncate) => {
                for target in &truncate.table_names {
                    self.write(&target.name);
                }
            }
            Statement::CreateIndex(index) => {
                self.write(&index.table_name);
            }
            Statement::Copy {
                source,
                to,
                target: _,
                ..
            } => match source {
                CopySource::Table {
                    table_name,
                    columns,
                } if !*to => {
                    if let Some(table) = self.write(table_name) {
                        for column in columns {
                            self.column(&table, column);
                        }
                    }
                }
                CopySource::Table { table_name, .. } => self.read(table_name),
                CopySource::Query(query) => self.query(query, false).map(drop)?,
            },
            Statement::Explain {
                statement, analyze, ..
            } if *analyze => {
                self.statement(statement, false)?;
            }
            Statement::Declare { stmts, .. } => {
                for declare in stmts {
                    if let Some(query) = &declare.for_query {
                        self.query(query, false)?;
                    }
                }
            }
            Statement::Use(Use::Object(name) | Use::Database(name) | Use::Schema(name)) => {
                self.default_schema = name.0.last().and_then(ident).map(fold);
            }
            Statement::LoadData { table_name, .. } => {
                self.write(table_name);
            }
            Statement::RefreshMaterializedView(refresh) => {
                self.write(&refresh.name);
            }
            Statement::Directory { source, .. } => {
                self.query(source, false)?;
            }
            Statement::Unload {
                query: Some(query), ..
            } => {
                self.query(query, false)?;
            }
            _ => {}
        }
        Ok(None)
    }

    fn alter_table(&mut self, table: &TableName, operation: &AlterTableOperation) {
        match operation {
            AlterTableOperation::AddColumn { column_def, .. } => {
                self.column(table, &column_def.name)
            }
            AlterTableOperation::AlterColumn { column_name, .. }
            | AlterTableOperation::ModifyColumn {
                col_name: column_name,
                ..
            } => self.column(table, column_name),
            AlterTableOperation::DropColumn { column_names, .. } => {
                for column in column_names {
                    self.column(table, column);
                }
            }
            AlterTableOperation::RenameColumn {
                old_column_name: old,
                new_column_name: new,
            }
            | AlterTableOperation::ChangeColumn {
                old_name: old,
                new_name: new,
                ..
            } => {
                self.column(table, old);
                self.column(table, new);
            }
            AlterTableOperation::RenameTable {
                table_name: RenameTableNameKind::As(name) | RenameTableNameKind::To(name),
            } => {
                // `ALTER TABLE s.a RENAME TO b` keeps the table in schema `s`.
                let mut renamed = self.table_name(name);
                if let Some(renamed) = &mut renamed {
                    if name.0.len() == 1 {
                        renamed.schema = table.schema.clone();
                    }
                    self.writes.push(renamed.clone());
                }
            }
            AlterTableOperation::SwapWith { table_name } => drop(self.write(table_name)),
            _ => {}
        }
    }

    fn insert(&mut self, insert: &Insert, want_rows: bool) -> Walk<Option<Rows>> {
        let target = match &insert.table {
            TableObject::TableName(name) => self.write(name),
            TableObject::TableFunction(function) => {
                self.pending(|p| p.function(function))?;
                None
            }
            TableObject::TableQuery(query) => {
                self.query(query, false)?;
                None
            }
        };
        let binding = insert.table_alias.as_ref().map(|alias| fold(&alias.alias));
        let sources: Vec<Source> = target
            .iter()
            .map(|table| Source {
                binding: binding.clone().unwrap_or_else(|| table.name.clone()),
                table: Some(table.clone()),
                aliased: binding.is_some(),
            })
            .collect();
        if let Some(table) = &target {
            for column in &insert.columns {
                if let Some(column) = column.0.last().and_then(ident) {
                    self.column(table, column);
                }
            }
        }
        if let Some(source) = &insert.source {
            self.query(source, false)?;
        }
        self.assignments(&insert.assignments, &sources)?;
        match &insert.on {
            Some(OnInsert::DuplicateKeyUpdate(assignments)) => {
                self.assignments(assignments, &sources)?
            }
            Some(OnInsert::OnConflict(conflict)) => {
                if let OnConflictAction::DoUpdate(update) = &conflict.action {
                    self.assignments(&update.assignments, &sources)?;
                    self.exprs(&update.selection)?;
                }
            }
            _ => {}
        }
        for clause in insert
            .multi_table_into_clauses
            .iter()
            .chain(
                insert
                    .multi_table_when_clauses
                    .iter()
                    .flat_map(|w| &w.into_clauses),
            )
            .chain(insert.multi_table_else_clause.iter().flatten())
        {
            if let Some(table) = self.write(&clause.table_name) {
                for column in &clause.columns {
                    self.column(&table, column);
                }
            }
        }
        self.pending(|p| {
            p.exprs(insert.partitioned.iter().flatten());
            for when in &insert.multi_table_when_clauses {
                p.expr(&when.condition);
            }
            if let Some(returning) = &insert.returning {
                p.select_items(returning);
            }
        })?;
        Ok(self.returning(insert.returning.as_deref(), &sources, false, want_rows))
    }

    fn update(&mut self, update: &Update, want_rows: bool) -> Walk<Option<Rows>> {
        // `UPDATE a JOIN b … SET a.x = …` (MySQL) writes only the tables it sets.
        let mut sources = Vec::new();
        self.sources_walked(&update.table, &mut sources)?;
        let mut written: Vec<bool> = vec![false; sources.len()];
        let mut unqualified = false;
        for assignment in &update.assignments {
            for target in assignment_targets(&assignment.target) {
                match target_column(&sources, target) {
                    Some((i, column)) => {
                        written[i] = true;
                        let table = sources[i].table.clone();
                        if let Some(table) = table {
                            self.column(&table, column);
                        }
                    }
                    None => unqualified = true,
                }
            }
        }
        if (update.table.joins.is_empty() || (unqualified && !written.contains(&true)))
            && let Some(first) = written.first_mut()
        {
            *first = true;
        }
        for (source, written) in sources.iter().zip(&written) {
            if let Some(table) = &source.table {
                if *written {
                    self.writes.push(table.clone());
                } else {
                    self.read_table(table.clone());
                }
            }
        }
        let from = match &update.from {
            Some(UpdateTableFromKind::BeforeSet(from) | UpdateTableFromKind::AfterSet(from)) => {
                from.as_slice()
            }
            None => &[],
        };
        for table in from {
            self.table_with_joins(table)?;
        }
        self.pending(|p| {
            p.exprs(update.assignments.iter().map(|a| &a.value));
            p.exprs(&update.selection);
            p.order_by(&update.order_by);
            p.exprs(&update.limit);
            if let Some(returning) = &update.returning {
                p.select_items(returning);
            }
        })?;
        let targets: Vec<Source> = sources
            .into_iter()
            .zip(written)
            .filter(|(_, written)| *written)
            .map(|(source, _)| source)
            .collect();
        let others = !from.is_empty() || !update.table.joins.is_empty();
        Ok(self.returning(update.returning.as_deref(), &targets, others, want_rows))
    }

    fn delete(&mut self, delete: &Delete, want_rows: bool) -> Walk<Option<Rows>> {
        let (FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from)) = &delete.from;
        let mut sources = Vec::new();
        let mut relations = Vec::new();
        for table in from {
            relations.push(sources.len());
            self.sources_walked(table, &mut sources)?;
        }
        let mut written = vec![false; sources.len()];
        if delete.tables.is_empty() {
            // `DELETE FROM a` and MySQL `DELETE FROM a, b USING …`: the tables after `FROM`.
            for i in relations {
                if let Some(written) = written.get_mut(i) {
                    *written = true;
                }
            }
        } else {
            // MySQL `DELETE a, b FROM a JOIN b …`: the tables listed, by alias or name.
            for name in &delete.tables {
                let idents: Option<Vec<&Ident>> = name.0.iter().map(ident).collect();
                match idents.and_then(|idents| resolve(&sources, &idents)) {
                    Some(i) => written[i] = true,
                    None => drop(self.write(name)),
                }
            }
        }
        let mut targets = Vec::new();
        for (source, written) in sources.into_iter().zip(written) {
            if let Some(table) = &source.table {
                if written {
                    self.writes.push(table.clone());
                } else {
                    self.read_table(table.clone());
                }
            }
            if written {
                targets.push(source);
            }
        }
        let using = delete.using.as_deref().unwrap_or_default();
        for table in using {
            let mut found = Vec::new();
            self.sources_walked(table, &mut found)?;
            for source in found {
                // MySQL names the deleted tables again in `USING`.
                let target = targets.iter().any(|t| t.binding == source.binding);
                if let (Some(table), false) = (source.table, target) {
                    self.read_table(table);
                }
            }
        }
        self.pending(|p| {
            p.exprs(&delete.selection);
            p.order_by(&delete.order_by);
            p.exprs(&delete.limit);
            if let Some(returning) = &delete.returning {
                p.select_items(returning);
            }
        })?;
        let others =
            !using.is_empty() || from.iter().any(|t| !t.joins.is_empty()) || targets.len() > 1;
        Ok(self.returning(delete.returning.as_deref(), &targets, others, want_rows))
    }

    fn merge(&mut self, merge: &Merge) -> Walk {
        let mut targets = Vec::new();
        match &merge.table {
            TableFactor::Table {
                name,
                alias,
                args: None,
                ..
            } => {
                if let Some(table) = self.write(name) {
                    targets.push(Source {
                        binding: alias
                            .as_ref()
                            .map_or_else(|| table.name.clone(), |a| fold(&a.name)),
                        table: Some(table),
                        aliased: alias.is_some(),
                    });
                }
            }
            other => self.table_factor(other)?,
        }
        self.table_factor(&merge.source)?;
        for clause in &merge.clauses {
            match &clause.action {
                MergeAction::Insert(insert) => {
                    if let Some(table) = targets.first().and_then(|t| t.table.clone()) {
                        for column in &insert.columns {
                            if let Some(column) = column.0.last().and_then(ident) {
                                self.column(&table, column);
                            }
                        }
                    }
                }
                MergeAction::Update(update) => {
                    if let MergeUpdateKind::Set(assignments) = &update.kind {
                        self.assignments(assignments, &targets)?;
                    }
                }
                MergeAction::Delete { .. } | MergeAction::DoNothing { .. } => {}
            }
        }
        self.pending(|p| {
            p.expr(&merge.on);
            for clause in &merge.clauses {
                p.exprs(&clause.predicate);
                match &clause.action {
                    MergeAction::Insert(insert) => {
                        if let MergeInsertKind::Values(values) = &insert.kind {
                            p.exprs(values.rows.iter().flat_map(|row| &row.content));
                        }
                        p.exprs(&insert.insert_predicate);
                    }
                    MergeAction::Update(update) => {
                        p.exprs(&update.update_predicate);
                        p.exprs(&update.delete_predicate);
                    }
                    MergeAction::Delete { .. } | MergeAction::DoNothing { .. } => {}
                }
            }
        })
    }

    /// `SET` targets of an `INSERT … ON CONFLICT`, `ON DUPLICATE KEY` or `MERGE`, whose one
    /// table is in `sources`; and the values set.
    fn assignments(&mut self, assignments: &[Assignment], sources: &[Source]) -> Walk {
        for assignment in assignments {
            for target in assignment_targets(&assignment.target) {
                if let Some((i, column)) = target_column(sources, target)
                    && let Some(table) = sources[i].table.clone()
                {
                    self.column(&table, column);
                }
            }
        }
        self.exprs(assignments.iter().map(|a| &a.value))
    }

    // ---- queries ----

    fn query(&mut self, query: &Query, want_rows: bool) -> Walk<Option<Rows>> {
        self.enter()?;
        let scope = self.ctes.len();
        if let Some(with) = &query.with {
            self.with(with)?;
        }
        let rows = match query.body.as_ref() {
            SetExpr::Select(select) => {
                self.select(select)?;
                if want_rows && query.pipe_operators.is_empty() {
                    self.select_rows(select, query)
                } else {
                    None
                }
            }
            SetExpr::Query(inner) => self.query(inner, want_rows)?,
            SetExpr::Insert(statement)
            | SetExpr::Update(statement)
            | SetExpr::Delete(statement)
            | SetExpr::Merge(statement) => self.statement(statement, want_rows)?,
            body => {
                self.set_expr(body)?;
                None
            }
        };
        self.pending(|p| {
            if let Some(order_by) = &query.order_by
                && let OrderByKind::Expressions(exprs) = &order_by.kind
            {
                p.order_by(exprs);
            }
            if let Some(limit) = &query.limit_clause {
                match limit {
                    sqlparser::ast::LimitClause::LimitOffset {
                        limit,
                        offset,
                        limit_by,
                    } => {
                        p.exprs(limit);
                        p.exprs(offset.iter().map(|o| &o.value));
                        p.exprs(limit_by);
                    }
                    sqlparser::ast::LimitClause::OffsetCommaLimit { offset, limit } => {
                        p.expr(offset);
                        p.expr(limit);
                    }
                }
            }
            if let Some(fetch) = &query.fetch {
                p.exprs(&fetch.quantity);
            }
            for operator in &query.pipe_operators {
                p.pipe_operator(operator);
            }
        })?;
        for operator in &query.pipe_operators {
            if let PipeOperator::Join(join) = operator {
                self.table_factor(&join.relation)?;
            }
        }
        self.ctes.truncate(scope);
        self.leave();
        Ok(rows)
    }

    fn with(&mut self, with: &With) -> Walk {
        if with.recursive {
            // Every name is in scope in every body, its own included.
            let sinks: Vec<usize> = with
                .cte_tables
                .iter()
                .map(|cte| {
                    let sink = self.sink();
                    self.ctes.push((fold(&cte.alias.name), sink));
                    sink
                })
                .collect();
            for (cte, sink) in with.cte_tables.iter().zip(sinks) {
                self.cte(cte, sink)?;
            }
        } else {
            // A body sees the CTEs before it, not itself: there, its name is still a table.
            for cte in &with.cte_tables {
                let sink = self.sink();
                self.cte(cte, sink)?;
                self.ctes.push((fold(&cte.alias.name), sink));
            }
        }
        Ok(())
    }

    fn cte(&mut self, cte: &Cte, sink: usize) -> Walk {
        let outer = std::mem::replace(&mut self.current, sink);
        let writes = self.writes.len();
        self.query(&cte.query, false)?;
        if self.writes.len() > writes {
            self.roots.push(sink);
        }
        self.current = outer;
        Ok(())
    }

    /// A set expression other than a query or statement. The left side of a chain of set
    /// operations is walked in a loop: the parser builds long chains without recursing.
    fn set_expr(&mut self, body: &SetExpr) -> Walk {
        let mut next = Some(body);
        while let Some(body) = next.take() {
            match body {
                SetExpr::SetOperation { left, right, .. } => {
                    self.enter()?;
                    self.set_expr(right)?;
                    self.leave();
                    next = Some(left);
                }
                SetExpr::Select(select) => self.select(select)?,
                SetExpr::Query(query) => drop(self.query(query, false)?),
                SetExpr::Values(values) => {
                    self.exprs(values.rows.iter().flat_map(|row| &row.content))?
                }
                SetExpr::Insert(statement)
                | SetExpr::Update(statement)
                | SetExpr::Delete(statement)
                | SetExpr::Merge(statement) => drop(self.statement(statement, false)?),
                SetExpr::Table(table) => {
                    if let Some(name) = &table.table_name {
                        let name = ObjectName(
                            table
                                .schema_name
                                .iter()
                                .chain([name])
                                .cloned()
                                .map(ObjectNamePart::Identifier)
                                .collect(),
                        );
                        self.read(&name);
                    }
                }
            }
        }
        Ok(())
    }

    fn select(&mut self, select: &Select) -> Walk {
        for table in &select.from {
            self.table_with_joins(table)?;
        }
        if let Some(into) = &select.into {
            // In MySQL `SELECT … INTO` assigns variables; elsewhere it creates a table.
            if self.dialect != Dialect::MySql {
                for target in &into.targets {
                    let name = match target {
                        Expr::Identifier(ident) => ObjectName::from(vec![ident.clone()]),
                        Expr::CompoundIdentifier(idents) => ObjectName::from(idents.clone()),
                        _ => continue,
                    };
                    self.write(&name);
                }
            }
        }
        self.pending(|p| {
            p.select_items(&select.projection);
            if let Some(Distinct::On(exprs)) = &select.distinct {
                p.exprs(exprs);
            }
            if let Some(top) = &select.top
                && let Some(TopQuantity::Expr(expr)) = &top.quantity
            {
                p.expr(expr);
            }
            for view in &select.lateral_views {
                p.expr(&view.lateral_view);
            }
            p.exprs(&select.prewhere);
            p.exprs(&select.selection);
            match &select.group_by {
                GroupByExpr::All(modifiers) => p.group_by_modifiers(modifiers),
                GroupByExpr::Expressions(exprs, modifiers) => {
                    p.exprs(exprs);
                    p.group_by_modifiers(modifiers);
                }
            }
            p.exprs(&select.cluster_by);
            p.exprs(&select.distribute_by);
            p.order_by(&select.sort_by);
            p.exprs(&select.having);
            p.exprs(&select.qualify);
            for window in &select.named_window {
                if let NamedWindowExpr::WindowSpec(spec) = &window.1 {
                    p.window(spec);
                }
            }
            for connect in &select.connect_by {
                match connect {
                    sqlparser::ast::ConnectByKind::ConnectBy { relationships, .. } => {
                        p.exprs(relationships)
                    }
                    sqlparser::ast::ConnectByKind::StartWith { condition, .. } => p.expr(condition),
                }
            }
        })
    }

    fn table_with_joins(&mut self, table: &TableWithJoins) -> Walk {
        self.table_factor(&table.relation)?;
        for join in &table.joins {
            self.table_factor(&join.relation)?;
            self.join_operator(&join.join_operator)?;
        }
        Ok(())
    }

    fn join_operator(&mut self, operator: &JoinOperator) -> Walk {
        let constraint = match operator {
            JoinOperator::Join(c)
            | JoinOperator::Inner(c)
            | JoinOperator::Left(c)
            | JoinOperator::LeftOuter(c)
            | JoinOperator::Right(c)
            | JoinOperator::RightOuter(c)
            | JoinOperator::FullOuter(c)
            | JoinOperator::CrossJoin(c)
            | JoinOperator::Semi(c)
            | JoinOperator::LeftSemi(c)
            | JoinOperator::RightSemi(c)
            | JoinOperator::Anti(c)
            | JoinOperator::LeftAnti(c)
            | JoinOperator::RightAnti(c)
            | JoinOperator::StraightJoin(c) => c,
            JoinOperator::AsOf {
                match_condition,
                constraint,
            } => {
                self.exprs([match_condition])?;
                constraint
            }
            JoinOperator::CrossApply
            | JoinOperator::OuterApply
            | JoinOperator::ArrayJoin
            | JoinOperator::LeftArrayJoin
            | JoinOperator::InnerArrayJoin => return Ok(()),
        };
        match constraint {
            JoinConstraint::On(expr) => self.exprs([expr]),
            _ => Ok(()),
        }
    }

    fn table_factor(&mut self, factor: &TableFactor) -> Walk {
        self.enter()?;
        match factor {
            TableFactor::Table {
                name,
                args,
                with_hints,
                version,
                ..
            } => {
                // With arguments it is a function (`generate_series(1, 3)`), not a table.
                match args {
                    Some(args) => self.pending(|p| p.function_args(&args.args))?,
                    None => self.read(name),
                }
                self.pending(|p| {
                    p.exprs(with_hints);
                    match version {
                        Some(
                            TableVersion::ForSystemTimeAsOf(e)
                            | TableVersion::TimestampAsOf(e)
                            | TableVersion::VersionAsOf(e)
                            | TableVersion::Function(e),
                        ) => p.expr(e),
                        Some(TableVersion::Changes { changes, at, end }) => {
                            p.expr(changes);
                            p.expr(at);
                            p.exprs(end);
                        }
                        None => {}
                    }
                })?;
            }
            TableFactor::Derived { subquery, .. } => drop(self.query(subquery, false)?),
            TableFactor::TableFunction { expr, .. } => self.exprs([expr])?,
            TableFactor::Function { args, .. } => self.pending(|p| p.function_args(args))?,
            TableFactor::UNNEST { array_exprs, .. } => self.exprs(array_exprs)?,
            TableFactor::JsonTable { json_expr, .. }
            | TableFactor::OpenJsonTable { json_expr, .. } => self.exprs([json_expr])?,
            TableFactor::NestedJoin {
                table_with_joins, ..
            } => self.table_with_joins(table_with_joins)?,
            TableFactor::Pivot {
                table,
                aggregate_functions,
                value_column,
                value_source,
                default_on_null,
                ..
            } => {
                self.table_factor(table)?;
                if let PivotValueSource::Subquery(query) = value_source {
                    self.query(query, false)?;
                }
                self.pending(|p| {
                    p.exprs(aggregate_functions.iter().map(|a| &a.expr));
                    p.exprs(value_column);
                    match value_source {
                        PivotValueSource::List(list) => p.exprs(list.iter().map(|a| &a.expr)),
                        PivotValueSource::Any(order_by) => p.order_by(order_by),
                        PivotValueSource::Subquery(_) => {}
                    }
                    p.exprs(default_on_null);
                })?;
            }
            TableFactor::Unpivot {
                table,
                value,
                columns,
                ..
            } => {
                self.table_factor(table)?;
                self.pending(|p| {
                    p.expr(value);
                    p.exprs(columns.iter().map(|c| &c.expr));
                })?;
            }
            TableFactor::UnpivotExpr { expression, .. } => self.exprs([expression])?,
            TableFactor::MatchRecognize {
                table,
                partition_by,
                order_by,
                measures,
                symbols,
                ..
            } => {
                self.table_factor(table)?;
                self.pending(|p| {
                    p.exprs(partition_by);
                    p.order_by(order_by);
                    p.exprs(measures.iter().map(|m| &m.expr));
                    p.exprs(symbols.iter().map(|s| &s.definition));
                })?;
            }
            TableFactor::XmlTable {
                row_expression,
                passing,
                ..
            } => self.pending(|p| {
                p.expr(row_expression);
                p.exprs(passing.arguments.iter().map(|a| &a.expr));
            })?,
            TableFactor::SemanticView {
                name,
                dimensions,
                metrics,
                facts,
                where_clause,
                ..
            } => {
                self.read(name);
                self.pending(|p| {
                    p.exprs(dimensions);
                    p.exprs(metrics);
                    p.exprs(facts);
                    p.exprs(where_clause);
                })?;
            }
        }
        self.leave();
        Ok(())
    }

    /// The items of `table` as column qualifiers see them, for `UPDATE` and `DELETE`, which
    /// decide later which tables they write; what is not a plain table is walked now.
    fn sources_walked(&mut self, table: &TableWithJoins, out: &mut Vec<Source>) -> Walk {
        self.enter()?;
        for (i, factor) in std::iter::once(&table.relation)
            .chain(table.joins.iter().map(|j| &j.relation))
            .enumerate()
        {
            match factor {
                TableFactor::Table {
                    name,
                    alias,
                    args: None,
                    ..
                } => {
                    let binding = alias.as_ref().map(|a| fold(&a.name));
                    match self.named(name) {
                        Some(Named::Table(t)) => out.push(Source {
                            binding: binding.clone().unwrap_or_else(|| t.name.clone()),
                            table: Some(t),
                            aliased: binding.is_some(),
                        }),
                        Some(Named::Cte(sink)) => {
                            self.sinks[self.current].ctes.push(sink);
                            out.push(Source {
                                binding: binding.unwrap_or_else(|| fold_last(name)),
                                table: None,
                                aliased: true,
                            });
                        }
                        None => out.push(Source {
                            binding: binding.unwrap_or_default(),
                            table: None,
                            aliased: true,
                        }),
                    }
                }
                TableFactor::NestedJoin {
                    table_with_joins,
                    alias: None,
                } => self.sources_walked(table_with_joins, out)?,
                other => {
                    self.table_factor(other)?;
                    out.push(Source {
                        binding: alias_of(other).unwrap_or_default(),
                        table: None,
                        aliased: true,
                    });
                }
            }
            if i > 0 {
                self.join_operator(&table.joins[i - 1].join_operator)?;
            }
        }
        self.leave();
        Ok(())
    }

    // ---- expressions ----

    fn exprs<'e>(&mut self, exprs: impl IntoIterator<Item = &'e Expr>) -> Walk {
        self.pending(|p| p.exprs(exprs))
    }

    /// Collects expressions with `fill`, walks them, then the subqueries found in them.
    fn pending<'e>(&mut self, fill: impl FnOnce(&mut Pending<'e>)) -> Walk {
        let mut pending = Pending::default();
        fill(&mut pending);
        pending.drain(|_| true);
        for name in pending.tables {
            self.read(name);
        }
        for query in pending.queries {
            self.query(query, false)?;
        }
        Ok(())
    }

    // ---- result rows ----

    fn select_rows(&self, select: &Select, query: &Query) -> Option<Rows> {
        if select.into.is_some()
            || matches!(select.distinct, Some(Distinct::Distinct | Distinct::On(_)))
            || select.having.is_some()
            || match &select.group_by {
                GroupByExpr::All(_) => true,
                GroupByExpr::Expressions(exprs, modifiers) => {
                    !exprs.is_empty() || !modifiers.is_empty()
                }
            }
        {
            return None;
        }
        let mut pending = Pending::default();
        pending.select_items(&select.projection);
        if let Some(order_by) = &query.order_by
            && let OrderByKind::Expressions(exprs) = &order_by.kind
        {
            pending.order_by(exprs);
        }
        if !pending.drain(|expr| !matches!(expr, Expr::Function(f) if is_aggregate(f))) {
            return None;
        }
        let mut sources = Vec::new();
        for table in &select.from {
            self.sources(table, &mut sources, 0);
        }
        Some(rows(Effect::Read, &select.projection, &sources))
    }

    /// Like [`Self::sources_walked`], without walking: for naming only.
    fn sources(&self, table: &TableWithJoins, out: &mut Vec<Source>, depth: usize) {
        for factor in
            std::iter::once(&table.relation).chain(table.joins.iter().map(|j| &j.relation))
        {
            match factor {
                TableFactor::Table {
                    name,
                    alias,
                    args: None,
                    ..
                } => {
                    let binding = alias.as_ref().map(|a| fold(&a.name));
                    out.push(match self.named(name) {
                        Some(Named::Table(t)) => Source {
                            binding: binding.clone().unwrap_or_else(|| t.name.clone()),
                            table: Some(t),
                            aliased: binding.is_some(),
                        },
                        _ => Source {
                            binding: binding.unwrap_or_else(|| fold_last(name)),
                            table: None,
                            aliased: true,
                        },
                    });
                }
                TableFactor::NestedJoin {
                    table_with_joins,
                    alias: None,
                } if depth < MAX_DEPTH => self.sources(table_with_joins, out, depth + 1),
                other => out.push(Source {
                    binding: alias_of(other).unwrap_or_default(),
                    table: None,
                    aliased: true,
                }),
            }
        }
    }

    /// The rows of a `RETURNING`, whose columns belong to `targets` if it is one table; with
    /// `others`, the statement has other tables too, whose columns resolve to nothing.
    fn returning(
        &self,
        items: Option<&[SelectItem]>,
        targets: &[Source],
        others: bool,
        want_rows: bool,
    ) -> Option<Rows> {
        let items = items.filter(|_| want_rows)?;
        let [target] = targets else {
            return Some(rows(Effect::Produced, items, &[]));
        };
        let mut sources = vec![Source {
            binding: target.binding.clone(),
            table: target.table.clone(),
            aliased: target.aliased,
        }];
        if others {
            sources.push(Source {
                binding: "".into(),
                table: None,
                aliased: true,
            });
        }
        // PostgreSQL 18: `RETURNING old.x, new.x`.
        for name in ["old", "new"] {
            if target.binding.as_ref() != name {
                sources.push(Source {
                    binding: name.into(),
                    table: target.table.clone(),
                    aliased: true,
                });
            }
        }
        // Those two must not make an unqualified name ambiguous.
        Some(rows_with(
            Effect::Produced,
            items,
            &sources,
            if others { 2 } else { 1 },
        ))
    }
}

fn rows(effect: Effect, items: &[SelectItem], sources: &[Source]) -> Rows {
    rows_with(effect, items, sources, sources.len())
}

/// The output names of `items` and their columns. Only the first `counted` sources count for
/// an unqualified name or `*`.
fn rows_with(effect: Effect, items: &[SelectItem], sources: &[Source], counted: usize) -> Rows {
    let single = match &sources[..counted.min(sources.len())] {
        [only] => only.table.as_ref(),
        _ => None,
    };
    let mut columns: Vec<(Box<str>, Option<ColumnName>)> = Vec::new();
    let mut wildcards: Vec<Option<TableName>> = Vec::new();
    for item in items {
        match item {
            SelectItem::UnnamedExpr(expr) => {
                if let Some((name, column)) = plain_column(expr, sources, single) {
                    columns.push((name, column));
                }
            }
            SelectItem::ExprWithAlias { expr, alias } => {
                let column = plain_column(expr, sources, single).and_then(|(_, c)| c);
                columns.push((fold(alias), column));
            }
            SelectItem::ExprWithAliases { aliases, .. } => {
                columns.extend(aliases.iter().map(|a| (fold(a), None)));
            }
            SelectItem::Wildcard(options) => {
                wildcards.push(single.filter(|_| plain_wildcard(options)).cloned());
            }
            SelectItem::QualifiedWildcard(kind, options) => {
                let table = match kind {
                    SelectItemQualifiedWildcardKind::ObjectName(name)
                        if plain_wildcard(options) =>
                    {
                        let idents: Option<Vec<&Ident>> = name.0.iter().map(ident).collect();
                        idents
                            .and_then(|idents| resolve(sources, &idents))
                            .and_then(|i| sources[i].table.clone())
                    }
                    _ => None,
                };
                wildcards.push(table);
            }
        }
    }
    columns.sort();
    // A name given twice, by different columns, is ambiguous.
    columns.dedup_by(|later, earlier| {
        if later.0 != earlier.0 {
            return false;
        }
        if later.1 != earlier.1 {
            earlier.1 = None;
        }
        true
    });
    let wildcard = match wildcards.as_slice() {
        [Some(table)] => Some(Wildcard::new(table.clone())),
        _ => None,
    };
    Rows {
        effect,
        columns: columns.into(),
        wildcard,
    }
}

/// `* EXCLUDE (…)` still names columns of the table; `REPLACE` and `RENAME` give other ones.
fn plain_wildcard(options: &WildcardAdditionalOptions) -> bool {
    options.opt_replace.is_none() && options.opt_rename.is_none() && options.opt_alias.is_none()
}

/// If `expr` is a plain column: its output name, and the table column when known.
fn plain_column(
    expr: &Expr,
    sources: &[Source],
    single: Option<&TableName>,
) -> Option<(Box<str>, Option<ColumnName>)> {
    let mut expr = expr;
    while let Expr::Nested(inner) = expr {
        expr = inner;
    }
    match expr {
        Expr::Identifier(column) => {
            let name = fold(column);
            let source = single.map(|table| ColumnName {
                table: table.clone(),
                column: name.clone(),
            });
            Some((name, source))
        }
        Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
            let (column, qualifier) = parts.split_last()?;
            let name = fold(column);
            let qualifier: Vec<&Ident> = qualifier.iter().collect();
            let source = resolve(sources, &qualifier)
                .and_then(|i| sources[i].table.clone())
                .map(|table| ColumnName {
                    table,
                    column: name.clone(),
                });
            Some((name, source))
        }
        _ => None,
    }
}

/// The source that a qualifier (`o`, `orders`, `public.orders`, `db.public.orders`) names,
/// if exactly one does.
fn resolve(sources: &[Source], qualifier: &[&Ident]) -> Option<usize> {
    let mut found = sources
        .iter()
        .enumerate()
        .filter(|(_, source)| match qualifier {
            [] => false,
            [name] => *source.binding == *fold(name),
            [.., schema, name] => {
                !source.aliased
                    && source.table.as_ref().is_some_and(|t| {
                        *t.name == *fold(name)
                            && t.schema.as_deref().is_none_or(|s| *s == *fold(schema))
                    })
            }
        });
    match (found.next(), found.next()) {
        (Some((i, _)), None) => Some(i),
        _ => None,
    }
}

fn assignment_targets(target: &AssignmentTarget) -> &[ObjectName] {
    match target {
        AssignmentTarget::ColumnName(name) => std::slice::from_ref(name),
        AssignmentTarget::Tuple(names) => names,
    }
}

/// The source and column that a `SET` target names: `col` when there is one table, `t.col`
/// by its qualifier; with one table, `col.field` (a composite's field) sets `col`.
fn target_column<'n>(sources: &[Source], target: &'n ObjectName) -> Option<(usize, &'n Ident)> {
    let idents: Vec<&Ident> = target.0.iter().map(ident).collect::<Option<_>>()?;
    let tables = || {
        let mut tables = sources
            .iter()
            .enumerate()
            .filter(|(_, s)| s.table.is_some());
        match (tables.next(), tables.next(), sources.len()) {
            (Some((i, _)), None, 1) => Some(i),
            _ => None,
        }
    };
    match idents.as_slice() {
        [] => None,
        [column] => Some((tables()?, column)),
        [qualifier @ .., column] => match resolve(sources, qualifier) {
            Some(i) => Some((i, column)),
            None => Some((tables()?, idents[0])),
        },
    }
}

fn alias_of(factor: &TableFactor) -> Option<Box<str>> {
    let alias = match factor {
        TableFactor::Table { alias, .. }
        | TableFactor::Derived { alias, .. }
        | TableFactor::TableFunction { alias, .. }
        | TableFactor::Function { alias, .. }
        | TableFactor::UNNEST { alias, .. }
        | TableFactor::JsonTable { alias, .. }
        | TableFactor::OpenJsonTable { alias, .. }
        | TableFactor::NestedJoin { alias, .. }
        | TableFactor::Pivot { alias, .. }
        | TableFactor::Unpivot { alias, .. }
        | TableFactor::MatchRecognize { alias, .. }
        | TableFactor::XmlTable { alias, .. }
        | TableFactor::SemanticView { alias, .. } => alias.as_ref(),
        TableFactor::UnpivotExpr { .. } => None,
    };
    alias.map(|a| fold(&a.name))
}

/// Aggregate functions by name, sorted for a binary search.
const AGGREGATES: &[&str] = &[
    "any_value",
    "approx_count_distinct",
    "array_agg",
    "avg",
    "bit_and",
    "bit_or",
    "bit_xor",
    "bool_and",
    "bool_or",
    "corr",
    "count",
    "covar_pop",
    "covar_samp",
    "every",
    "group_concat",
    "json_agg",
    "json_arrayagg",
    "json_group_array",
    "json_group_object",
    "json_object_agg",
    "json_objectagg",
    "jsonb_agg",
    "jsonb_object_agg",
    "listagg",
    "max",
    "median",
    "min",
    "mode",
    "percentile_cont",
    "percentile_disc",
    "regr_avgx",
    "regr_avgy",
    "regr_count",
    "regr_intercept",
    "regr_r2",
    "regr_slope",
    "regr_sxx",
    "regr_sxy",
    "regr_syy",
    "std",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "string_agg",
    "sum",
    "total",
    "var_pop",
    "var_samp",
    "variance",
    "xmlagg",
];

/// Aggregates by name, for deciding whether rows are table rows. `min`/`max` with several
/// arguments are SQLite's scalar functions.
fn is_aggregate(function: &Function) -> bool {
    if function.over.is_some() {
        return false;
    }
    if function.filter.is_some() || !function.within_group.is_empty() {
        return true;
    }
    let Some(name) = function.name.0.last().and_then(ident) else {
        return false;
    };
    let name = name.value.to_ascii_lowercase();
    let arguments = match &function.args {
        FunctionArguments::List(list) => list.args.len(),
        _ => 0,
    };
    AGGREGATES.binary_search(&name.as_str()).is_ok()
        && !(matches!(name.as_str(), "min" | "max") && arguments > 1)
}

fn ident(part: &ObjectNamePart) -> Option<&Ident> {
    match part {
        ObjectNamePart::Identifier(ident) => Some(ident),
        ObjectNamePart::Function(_) => None,
    }
}

/// Unquoted identifiers fold to lower case; quoted ones are kept as written.
fn fold(ident: &Ident) -> Box<str> {
    match ident.quote_style {
        Some(_) => ident.value.as_str().into(),
        None => ident.value.to_ascii_lowercase().into(),
    }
}

fn fold_last(name: &ObjectName) -> Box<str> {
    name.0.last().and_then(ident).map(fold).unwrap_or_default()
}

/// Expressions still to walk, and what they lead to: subqueries, and tables named by
/// `IN table`. Filled without recursion, so any chain of operators fits.
#[derive(Default)]
struct Pending<'e> {
    stack: Vec<&'e Expr>,
    queries: Vec<&'e Query>,
    tables: Vec<&'e ObjectName>,
}

impl<'e> Pending<'e> {
    fn expr(&mut self, expr: &'e Expr) {
        self.stack.push(expr);
    }

    fn exprs(&mut self, exprs: impl IntoIterator<Item = &'e Expr>) {
        self.stack.extend(exprs);
    }

    fn order_by(&mut self, order_by: &'e [OrderByExpr]) {
        for item in order_by {
            self.expr(&item.expr);
            if let Some(fill) = &item.with_fill {
                self.exprs(&fill.from);
                self.exprs(&fill.to);
                self.exprs(&fill.step);
            }
        }
    }

    fn window(&mut self, spec: &'e WindowSpec) {
        self.exprs(&spec.partition_by);
        self.order_by(&spec.order_by);
        if let Some(frame) = &spec.window_frame {
            for bound in std::iter::once(&frame.start_bound).chain(&frame.end_bound) {
                if let WindowFrameBound::Preceding(Some(e)) | WindowFrameBound::Following(Some(e)) =
                    bound
                {
                    self.expr(e);
                }
            }
        }
    }

    fn function(&mut self, function: &'e Function) {
        self.arguments(&function.parameters);
        self.arguments(&function.args);
        if let Some(filter) = &function.filter {
            self.expr(filter);
        }
        if let Some(WindowType::WindowSpec(spec)) = &function.over {
            self.window(spec);
        }
        self.order_by(&function.within_group);
    }

    fn arguments(&mut self, arguments: &'e FunctionArguments) {
        match arguments {
            FunctionArguments::None => {}
            FunctionArguments::Subquery(query) => self.queries.push(query),
            FunctionArguments::List(list) => {
                self.function_args(&list.args);
                for clause in &list.clauses {
                    match clause {
                        FunctionArgumentClause::Where(e) | FunctionArgumentClause::Limit(e) => {
                            self.expr(e)
                        }
                        FunctionArgumentClause::OrderBy(order_by) => self.order_by(order_by),
                        FunctionArgumentClause::Having(bound) => self.expr(&bound.1),
                        FunctionArgumentClause::OnOverflow(ListAggOnOverflow::Truncate {
                            filler: Some(filler),
                            ..
                        }) => self.expr(filler),
                        _ => {}
                    }
                }
            }
        }
    }

    fn function_args(&mut self, args: &'e [FunctionArg]) {
        for arg in args {
            let arg = match arg {
                FunctionArg::Named { arg, .. } | FunctionArg::Unnamed(arg) => arg,
                FunctionArg::ExprNamed { name, arg, .. } => {
                    self.expr(name);
                    arg
                }
            };
            match arg {
                FunctionArgExpr::Expr(e) => self.expr(e),
                FunctionArgExpr::WildcardWithOptions(options) => self.wildcard(options),
                FunctionArgExpr::QualifiedWildcard(_) | FunctionArgExpr::Wildcard => {}
            }
        }
    }

    fn wildcard(&mut self, options: &'e WildcardAdditionalOptions) {
        if let Some(replace) = &options.opt_replace {
            self.exprs(replace.items.iter().map(|item| &item.expr));
        }
    }

    fn select_items(&mut self, items: &'e [SelectItem]) {
        for item in items {
            match item {
                SelectItem::UnnamedExpr(e)
                | SelectItem::ExprWithAlias { expr: e, .. }
                | SelectItem::ExprWithAliases { expr: e, .. } => self.expr(e),
                SelectItem::Wildcard(options) => self.wildcard(options),
                SelectItem::QualifiedWildcard(kind, options) => {
                    if let SelectItemQualifiedWildcardKind::Expr(e) = kind {
                        self.expr(e);
                    }
                    self.wildcard(options);
                }
            }
        }
    }

    fn group_by_modifiers(&mut self, modifiers: &'e [GroupByWithModifier]) {
        for modifier in modifiers {
            if let GroupByWithModifier::GroupingSets(e) = modifier {
                self.expr(e);
            }
        }
    }

    fn pipe_operator(&mut self, operator: &'e PipeOperator) {
        match operator {
            PipeOperator::Limit { expr, offset } => {
                self.expr(expr);
                self.exprs(offset);
            }
            PipeOperator::Where { expr } => self.expr(expr),
            PipeOperator::OrderBy { exprs } => self.order_by(exprs),
            PipeOperator::Select { exprs } | PipeOperator::Extend { exprs } => {
                self.select_items(exprs)
            }
            PipeOperator::Set { assignments } => self.exprs(assignments.iter().map(|a| &a.value)),
            PipeOperator::Aggregate {
                full_table_exprs,
                group_by_expr,
            } => self.exprs(
                full_table_exprs
                    .iter()
                    .chain(group_by_expr)
                    .map(|e| &e.expr.expr),
            ),
            PipeOperator::Union { queries, .. }
            | PipeOperator::Intersect { queries, .. }
            | PipeOperator::Except { queries, .. } => self.queries.extend(queries),
            PipeOperator::Call { function, .. } => self.function(function),
            PipeOperator::Pivot {
                aggregate_functions,
                value_source,
                ..
            } => {
                self.exprs(aggregate_functions.iter().map(|a| &a.expr));
                match value_source {
                    PivotValueSource::List(list) => self.exprs(list.iter().map(|a| &a.expr)),
                    PivotValueSource::Any(order_by) => self.order_by(order_by),
                    PivotValueSource::Subquery(query) => self.queries.push(query),
                }
            }
            PipeOperator::Join(join) => {
                if let JoinOperator::Join(JoinConstraint::On(e))
                | JoinOperator::Inner(JoinConstraint::On(e))
                | JoinOperator::Left(JoinConstraint::On(e))
                | JoinOperator::LeftOuter(JoinConstraint::On(e))
                | JoinOperator::Right(JoinConstraint::On(e))
                | JoinOperator::RightOuter(JoinConstraint::On(e))
                | JoinOperator::FullOuter(JoinConstraint::On(e)) = &join.join_operator
                {
                    self.expr(e);
                }
            }
            PipeOperator::Drop { .. }
            | PipeOperator::As { .. }
            | PipeOperator::TableSample { .. }
            | PipeOperator::Rename { .. }
            | PipeOperator::Unpivot { .. } => {}
        }
    }

    /// Visits every expression on the stack and in it, not descending into subqueries.
    /// Stops, returning `false`, as soon as `visit` does.
    fn drain(&mut self, mut visit: impl FnMut(&Expr) -> bool) -> bool {
        while let Some(expr) = self.stack.pop() {
            if !visit(expr) {
                return false;
            }
            self.children(expr);
        }
        true
    }

    fn children(&mut self, expr: &'e Expr) {
        match expr {
            Expr::Identifier(_)
            | Expr::CompoundIdentifier(_)
            | Expr::Value(_)
            | Expr::TypedString(_)
            | Expr::MatchAgainst { .. }
            | Expr::Wildcard(_)
            | Expr::QualifiedWildcard(..) => {}
            Expr::CompoundFieldAccess { root, access_chain } => {
                self.expr(root);
                for access in access_chain {
                    match access {
                        AccessExpr::Dot(e) => self.expr(e),
                        AccessExpr::Subscript(subscript) => self.subscript(subscript),
                    }
                }
            }
            Expr::JsonAccess { value, path } => {
                self.expr(value);
                for element in &path.path {
                    if let JsonPathElem::Bracket { key } | JsonPathElem::ColonBracket { key } =
                        element
                    {
                        self.expr(key);
                    }
                }
            }
            Expr::IsFalse(e)
            | Expr::IsNotFalse(e)
            | Expr::IsTrue(e)
            | Expr::IsNotTrue(e)
            | Expr::IsNull(e)
            | Expr::IsNotNull(e)
            | Expr::IsUnknown(e)
            | Expr::IsNotUnknown(e)
            | Expr::IsJson { expr: e, .. }
            | Expr::IsNormalized { expr: e, .. }
            | Expr::UnaryOp { expr: e, .. }
            | Expr::Cast { expr: e, .. }
            | Expr::Extract { expr: e, .. }
            | Expr::Ceil { expr: e, .. }
            | Expr::Floor { expr: e, .. }
            | Expr::Collate { expr: e, .. }
            | Expr::Nested(e)
            | Expr::Prefixed { value: e, .. }
            | Expr::Named { expr: e, .. }
            | Expr::OuterJoin(e)
            | Expr::Prior(e) => self.expr(e),
            Expr::IsDistinctFrom(a, b)
            | Expr::IsNotDistinctFrom(a, b)
            | Expr::BinaryOp {
                left: a, right: b, ..
            }
            | Expr::AnyOp {
                left: a, right: b, ..
            }
            | Expr::AllOp {
                left: a, right: b, ..
            }
            | Expr::RLike {
                expr: a,
                pattern: b,
                ..
            }
            | Expr::AtTimeZone {
                timestamp: a,
                time_zone: b,
            }
            | Expr::Position { expr: a, r#in: b } => {
                self.expr(a);
                self.expr(b);
            }
            Expr::Like {
                expr,
                pattern,
                escape_char,
                ..
            }
            | Expr::ILike {
                expr,
                pattern,
                escape_char,
                ..
            }
            | Expr::SimilarTo {
                expr,
                pattern,
                escape_char,
                ..
            } => {
                self.expr(expr);
                self.expr(pattern);
                if let Some(escape) = escape_char {
                    self.expr(escape);
                }
            }
            Expr::In { expr, target, .. } => {
                self.expr(expr);
                match target {
                    InTarget::List(list) => self.exprs(list),
                    InTarget::Subquery(query) => self.queries.push(query),
                    InTarget::Unnest(e) => self.expr(e),
                    InTarget::Table { name, args } => {
                        self.tables.push(name);
                        if let Some(args) = args {
                            self.function_args(args);
                        }
                    }
                }
            }
            Expr::Between {
                expr, low, high, ..
            } => {
                self.expr(expr);
                self.expr(low);
                self.expr(high);
            }
            Expr::Convert { expr, styles, .. } => {
                self.expr(expr);
                self.exprs(styles);
            }
            Expr::Substring {
                expr,
                substring_from,
                substring_for,
                ..
            } => {
                self.expr(expr);
                self.stack.extend(substring_from.as_deref());
                self.stack.extend(substring_for.as_deref());
            }
            Expr::Trim {
                expr,
                trim_what,
                trim_characters,
                ..
            } => {
                self.expr(expr);
                self.stack.extend(trim_what.as_deref());
                self.exprs(trim_characters.iter().flatten());
            }
            Expr::Overlay {
                expr,
                overlay_what,
                overlay_from,
                overlay_for,
            } => {
                self.expr(expr);
                self.expr(overlay_what);
                self.expr(overlay_from);
                self.stack.extend(overlay_for.as_deref());
            }
            Expr::Function(function) => self.function(function),
            Expr::Case {
                operand,
                conditions,
                else_result,
                ..
            } => {
                self.stack.extend(operand.as_deref());
                for when in conditions {
                    self.expr(&when.condition);
                    self.expr(&when.result);
                }
                self.stack.extend(else_result.as_deref());
            }
            Expr::Exists { subquery, .. } | Expr::Subquery(subquery) => self.queries.push(subquery),
            Expr::GroupingSets(sets) | Expr::Cube(sets) | Expr::Rollup(sets) => {
                self.exprs(sets.iter().flatten())
            }
            Expr::Tuple(exprs) | Expr::Struct { values: exprs, .. } => self.exprs(exprs),
            Expr::Dictionary(fields) => self.exprs(fields.iter().map(|f| &*f.value)),
            Expr::Map(map) => {
                for entry in &map.entries {
                    self.expr(&entry.key);
                    self.expr(&entry.value);
                }
            }
            Expr::Array(array) => self.exprs(&array.elem),
            Expr::Interval(interval) => self.expr(&interval.value),
            Expr::Lambda(lambda) => self.expr(&lambda.body),
            Expr::MemberOf(member) => {
                self.expr(&member.value);
                self.expr(&member.array);
            }
        }
    }

    fn subscript(&mut self, subscript: &'e Subscript) {
        match subscript {
            Subscript::Index { index } => self.expr(index),
            Subscript::Slice {
                lower_bound,
                upper_bound,
                stride,
            } => {
                self.exprs(lower_bound);
                self.exprs(upper_bound);
                self.exprs(stride);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn aggregates_are_sorted() {
        assert!(super::AGGREGATES.is_sorted());
    }
}
