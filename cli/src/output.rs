//! Output, in one place: the `-o table|json` choice, aligned text tables, JSON documents,
//! and writing to standard output.

use std::io::Write;

use anyhow::Result;
use clap::ValueEnum;
use serde::Serialize;

/// `-o`: a table for people, JSON for tools.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// An aligned text table.
    Table,
    /// A JSON document.
    Json,
}

/// An aligned text table: each column as wide as its widest cell, columns two spaces apart,
/// no trailing blanks.
pub fn table<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(str::len);
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.len());
        }
    }
    let line = |cells: Vec<&str>| {
        let text: Vec<String> = cells
            .iter()
            .zip(widths.iter())
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let mut line = text.join("  ").trim_end().to_string();
        line.push('\n');
        line
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// Writes `text` to standard output.
pub fn print(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Writes `value` as pretty JSON and a newline to standard output.
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> Result<()> {
    print(&format!("{}\n", serde_json::to_string_pretty(value)?))
}

/// `table` or JSON of `rows`, as `format` asks.
pub fn print_rows<T: Serialize>(
    format: Format,
    rows: &[T],
    table: impl Fn(&[T]) -> String,
) -> Result<()> {
    match format {
        Format::Table => print(&table(rows)),
        Format::Json => print_json(rows),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_without_trailing_blanks() {
        let rows = [
            ["db".to_string(), "postgres:18".to_string(), String::new()],
            ["cache".to_string(), "redis".to_string(), "x".to_string()],
        ];
        assert_eq!(
            table(["NAME", "IMAGE", "NOTE"], &rows),
            "NAME   IMAGE        NOTE\ndb     postgres:18\ncache  redis        x\n"
        );
    }
}
