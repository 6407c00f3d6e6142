//! The export archive: spools every exporter's output to a local folder, then writes one zip from it.
//!
//! Why spool: an exporter hands over items page by page, entity after entity in whatever order its queries
//! return them, while a zip is written one file at a time. Each entity's items are appended to a JSON Lines file
//! in the spool folder as they come (nothing is held in memory), and [`ExportArchive::finish`] streams each spool
//! file into the zip as a JSON array — plus a CSV copy when every item of the entity is flat (no nested objects
//! or lists), which is what spreadsheets open. Memory stays flat from ten items to a hundred thousand; disk holds
//! the account's data twice for the duration (Lambda's `/tmp` is up to 10 GB).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;
use zip::write::SimpleFileOptions;

use super::{ExportError, ExportSink, personal_view};

/// What went into an archive.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Contents {
    /// Items per `<domain>/<entity>`.
    pub items: BTreeMap<String, u64>,
    /// Files per domain.
    pub files: BTreeMap<String, u64>,
}

/// A sink that spools to a folder; [`ExportArchive::finish`] writes the zip.
pub struct ExportArchive {
    spool: tempfile::TempDir,
    open: BTreeMap<String, BufWriter<File>>,
    contents: Contents,
    /// `domain/files/<name>` → spooled path, in order.
    files: Vec<(String, PathBuf)>,
}

impl ExportArchive {
    /// A new, empty archive spooling in the system's temp folder (Lambda's `/tmp`).
    pub fn new() -> Result<Self, ExportError> {
        Ok(Self {
            spool: tempfile::tempdir()?,
            open: BTreeMap::new(),
            contents: Contents::default(),
            files: Vec::new(),
        })
    }

    /// Writes the zip to `out`: `README.txt` (from `readme`, then a line per file), then each entity as
    /// `<domain>/<entity>.json` (and `.csv` when flat), then the files. Answers what it holds.
    pub fn finish(mut self, readme: &str, out: &Path) -> Result<Contents, ExportError> {
        for (_, mut writer) in std::mem::take(&mut self.open) {
            writer.flush()?;
        }
        let mut zip = zip::ZipWriter::new(BufWriter::new(File::create(out)?));
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        let mut listing = String::from(readme);
        listing.push_str("\nFiles in this archive:\n");
        for (name, count) in &self.contents.items {
            listing.push_str(&format!("- {name}.json: {count} records\n"));
        }
        for (domain, count) in &self.contents.files {
            listing.push_str(&format!("- {domain}/files/: {count} files you uploaded\n"));
        }
        zip.start_file("README.txt", options).map_err(zip_error)?;
        zip.write_all(listing.as_bytes())?;
        for name in self.contents.items.keys() {
            let spooled = self.spool.path().join(spool_name(name));
            zip.start_file(format!("{name}.json"), options)
                .map_err(zip_error)?;
            let columns = json_array(&spooled, &mut zip)?;
            if let Some(columns) = columns {
                zip.start_file(format!("{name}.csv"), options)
                    .map_err(zip_error)?;
                csv(&spooled, &columns, &mut zip)?;
            }
        }
        for (name, path) in &self.files {
            zip.start_file(name.as_str(), options).map_err(zip_error)?;
            std::io::copy(&mut File::open(path)?, &mut zip)?;
        }
        zip.finish().map_err(zip_error)?.flush()?;
        Ok(self.contents)
    }
}

impl ExportSink for ExportArchive {
    fn items(&mut self, domain: &str, items: Vec<crate::table::Item>) -> Result<(), ExportError> {
        for item in items {
            let (entity, view) = personal_view(item);
            let name = format!("{}/{}", clean(domain), clean(&entity));
            let writer = match self.open.get_mut(&name) {
                Some(writer) => writer,
                None => {
                    let file = File::create(self.spool.path().join(spool_name(&name)))?;
                    self.open
                        .entry(name.clone())
                        .or_insert(BufWriter::new(file))
                }
            };
            serde_json::to_writer(&mut *writer, &view)
                .map_err(|e| ExportError::Other(e.to_string()))?;
            writer.write_all(b"\n")?;
            *self.contents.items.entry(name).or_default() += 1;
        }
        Ok(())
    }

    fn file(&mut self, domain: &str, name: &str, bytes: &[u8]) -> Result<(), ExportError> {
        let index = self.files.len();
        let path = self.spool.path().join(format!("file-{index}"));
        std::fs::write(&path, bytes)?;
        let safe: Vec<String> = name.split('/').map(clean).collect();
        self.files
            .push((format!("{}/files/{}", clean(domain), safe.join("/")), path));
        *self.contents.files.entry(clean(domain)).or_default() += 1;
        Ok(())
    }
}

/// A name segment safe in a zip on any system: letters, digits, `-`, `_`, `.` (no `..`).
fn clean(segment: &str) -> String {
    let cleaned: String = segment
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    match cleaned.trim_matches('.') {
        "" => "_".into(),
        rest => rest.to_string(),
    }
}

fn spool_name(name: &str) -> String {
    format!("{}.jsonl", name.replace('/', "~"))
}

/// Streams a JSON Lines spool file into `out` as a JSON array; answers the CSV columns when every record is a
/// flat object (scalars only), `None` otherwise.
fn json_array(spooled: &Path, out: &mut impl Write) -> Result<Option<Vec<String>>, ExportError> {
    let mut columns = BTreeSet::new();
    let mut flat = true;
    out.write_all(b"[\n")?;
    for (n, line) in BufReader::new(File::open(spooled)?).lines().enumerate() {
        let line = line?;
        if n > 0 {
            out.write_all(b",\n")?;
        }
        out.write_all(line.as_bytes())?;
        if flat {
            match serde_json::from_str::<Value>(&line) {
                Ok(Value::Object(map)) if map.values().all(|v| !v.is_object() && !v.is_array()) => {
                    columns.extend(map.keys().cloned());
                }
                _ => flat = false,
            }
        }
    }
    out.write_all(b"\n]\n")?;
    Ok(flat.then(|| columns.into_iter().collect()))
}

/// Writes a spool file of flat records as CSV (RFC 4180: quoted where needed, quotes doubled).
fn csv(spooled: &Path, columns: &[String], out: &mut impl Write) -> Result<(), ExportError> {
    let header: Vec<String> = columns.iter().map(|c| csv_field(c)).collect();
    writeln!(out, "{}", header.join(","))?;
    for line in BufReader::new(File::open(spooled)?).lines() {
        let record: Value =
            serde_json::from_str(&line?).map_err(|e| ExportError::Other(e.to_string()))?;
        let row: Vec<String> = columns
            .iter()
            .map(|c| match record.get(c) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => csv_field(s),
                Some(other) => csv_field(&other.to_string()),
            })
            .collect();
        writeln!(out, "{}", row.join(","))?;
    }
    Ok(())
}

fn csv_field(text: &str) -> String {
    // A leading = + - @ would run as a formula in a spreadsheet (CSV injection): quote it behind an apostrophe.
    let text = if text.starts_with(['=', '+', '-', '@']) && text.parse::<f64>().is_err() {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if text.contains([',', '"', '\n', '\r']) || text.starts_with('\'') {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

fn zip_error(e: zip::result::ZipError) -> ExportError {
    ExportError::Other(format!("writing the zip: {e}"))
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use serde_json::json;

    use super::*;

    fn item(value: Value) -> crate::table::Item {
        let Value::Object(map) = value else {
            unreachable!()
        };
        map
    }

    fn read(zip: &mut zip::ZipArchive<File>, name: &str) -> String {
        let mut text = String::new();
        zip.by_name(name)
            .expect(name)
            .read_to_string(&mut text)
            .unwrap();
        text
    }

    #[test]
    fn items_become_a_json_file_per_entity_with_a_csv_copy_when_flat() {
        let mut archive = ExportArchive::new().unwrap();
        archive
            .items(
                "learning",
                vec![
                    item(json!({"pk": "L#1", "sk": "R#1", "entity": "result", "score": 5, "game": "=cmd"})),
                    item(json!({"pk": "L#1", "profile": {"name": "Ada"}, "entity": "profile"})),
                    item(json!({"pk": "L#1", "sk": "R#2", "entity": "result", "score": 7, "note": "a, \"b\""})),
                ],
            )
            .unwrap();
        archive
            .file("learning", "profile-avatars/p1/a", b"PNG")
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("export.zip");
        let contents = archive.finish("Your data.\n", &out).unwrap();
        assert_eq!(contents.items["learning/result"], 2);
        assert_eq!(contents.files["learning"], 1);

        let mut zip = zip::ZipArchive::new(File::open(&out).unwrap()).unwrap();
        let results: Value = serde_json::from_str(&read(&mut zip, "learning/result.json")).unwrap();
        assert_eq!(
            results,
            json!([{"score": 5, "game": "=cmd"}, {"score": 7, "note": "a, \"b\""}])
        );
        assert_eq!(
            read(&mut zip, "learning/result.csv"),
            "game,note,score\n\"'=cmd\",,5\n,\"a, \"\"b\"\"\",7\n"
        );
        assert!(
            zip.by_name("learning/profile.csv").is_err(),
            "nested: JSON only"
        );
        assert_eq!(read(&mut zip, "learning/files/profile-avatars/p1/a"), "PNG");
        let readme = read(&mut zip, "README.txt");
        assert!(readme.starts_with("Your data."), "{readme}");
        assert!(
            readme.contains("learning/result.json: 2 records"),
            "{readme}"
        );
    }

    #[test]
    fn names_cannot_leave_their_folder() {
        assert_eq!(clean(".."), "_");
        assert_eq!(clean("a/b"), "a_b");
        assert_eq!(clean("ok-name_1.json"), "ok-name_1.json");
    }
}
