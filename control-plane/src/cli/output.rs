//! How the client commands print: a table for people, or the API's
//! canonical JSON (proto3 JSON mapping: lowerCamelCase fields, enum names,
//! RFC 3339 timestamps, 64-bit integers as strings) or the same as YAML for
//! scripts. The JSON is produced from the messages' descriptors
//! (`prost-reflect`), so it is what any other proto3 JSON client sees.

use std::sync::LazyLock;

use anyhow::Context as _;
use clap::ValueEnum;
use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};

/// `-o`.
#[derive(Clone, Copy, Debug, Default, ValueEnum, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns for people.
    #[default]
    Table,
    /// The API's canonical JSON.
    Json,
    /// The canonical JSON as YAML.
    Yaml,
}

static POOL: LazyLock<Option<DescriptorPool>> =
    LazyLock::new(|| DescriptorPool::decode(storeplane_proto::FILE_DESCRIPTOR_SET).ok());

/// `message` (of the proto type `full_name`) in the canonical JSON mapping.
pub fn canonical_json<M: prost::Message>(
    message: &M,
    full_name: &str,
) -> anyhow::Result<serde_json::Value> {
    let pool = POOL
        .as_ref()
        .context("the API's descriptors do not decode")?;
    let descriptor = pool
        .get_message_by_name(full_name)
        .with_context(|| format!("no message {full_name} in the API's descriptors"))?;
    let dynamic = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice())?;
    Ok(dynamic.serialize_with_options(
        serde_json::value::Serializer,
        &SerializeOptions::new().skip_default_fields(true),
    )?)
}

/// Prints `message` as JSON or YAML; false for [`Format::Table`] (the
/// caller prints its table).
pub fn print_structured<M: prost::Message>(
    format: Format,
    message: &M,
    full_name: &str,
) -> anyhow::Result<bool> {
    match format {
        Format::Table => Ok(false),
        Format::Json => {
            let value = canonical_json(message, full_name)?;
            println!("{}", serde_json::to_string_pretty(&value)?);
            Ok(true)
        }
        Format::Yaml => {
            let value = canonical_json(message, full_name)?;
            print!("{}", serde_saphyr::to_string(&value)?);
            Ok(true)
        }
    }
}

/// Rows under a header, each column as wide as its widest cell.
pub struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column names.
    pub fn new(header: &[&'static str]) -> Self {
        Self {
            header: header.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Prints it to stdout; the last column is not padded.
    pub fn print(&self) {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                if let Some(width) = widths.get_mut(i) {
                    *width = (*width).max(cell.chars().count());
                }
            }
        }
        let line = |cells: Vec<&str>| {
            let last = cells.len().saturating_sub(1);
            let mut out = String::new();
            for (i, cell) in cells.into_iter().enumerate() {
                if i == last {
                    out.push_str(cell);
                } else {
                    let pad = widths[i].saturating_sub(cell.chars().count());
                    out.push_str(cell);
                    out.push_str(&" ".repeat(pad + 2));
                }
            }
            println!("{}", out.trim_end());
        };
        line(self.header.clone());
        for row in &self.rows {
            line(row.iter().map(String::as_str).collect());
        }
    }
}

/// `key: value` lines, keys aligned.
pub fn print_fields(fields: &[(&str, String)]) {
    let width = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (key, value) in fields {
        if !value.is_empty() {
            println!("{key:<width$}  {value}");
        }
    }
}

/// A timestamp for people (RFC 3339, seconds).
pub fn time(t: Option<&prost_types::Timestamp>) -> String {
    t.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0)))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}
