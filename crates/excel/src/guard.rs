//! Hostile-file checks, run on the raw bytes before calamine sees them.
//!
//! calamine trusts what a workbook declares: it reserves memory for the
//! shared-string count a file claims, and a worksheet of far-apart cells
//! or an entry that inflates to gigabytes exhausts memory. An allocation
//! failure aborts the whole process (SIGABRT, not a panic that could be
//! caught), taking every other request of the instance with it. So
//! [`check`] decides from the zip's central directory and from the first
//! tags of the XML parts, without inflating any part in full:
//!
//! - not a zip with `[Content_Types].xml` and a spreadsheet main part →
//!   [`GuardError::NotAWorkbook`] (legacy `.xls`, `.ods`, `.xlsb`, random
//!   bytes); an OLE2 compound file holding an `EncryptedPackage` stream →
//!   [`GuardError::Encrypted`] (Excel saves password-protected workbooks
//!   that way), as is a zip with encrypted entries;
//! - a `vbaProject.bin`, or a macro-enabled or macro-sheet content type →
//!   [`GuardError::MacrosNotAllowed`];
//! - the file, one entry's declared uncompressed size, the sum of them, the
//!   compression ratio of a large entry, or the number of entries over
//!   [`ImportLimits`] → [`GuardError::FileTooLarge`] /
//!   [`GuardError::ZipBomb`]. The zip reader refuses to inflate an entry
//!   past its declared size, so the declared sizes bound what calamine can
//!   read;
//! - a shared-string table declaring more strings than its size can hold →
//!   [`GuardError::ZipBomb`] (calamine reserves that many up front);
//! - a worksheet whose `<dimension ref>` reaches past the limits →
//!   [`GuardError::TooLarge`] (columns) or [`GuardError::TooManyRows`].
//!
//! The import itself never builds calamine's dense `Range` (which allocates
//! rows × columns cells for the bounding box of whatever cells a file has):
//! it streams cells and drops those outside the limits, so a lying
//! dimension cannot hurt it either; the dimension check is the early, cheap
//! answer for the honest case.

use sintra_domain::error_code::ErrorCode;
use std::io::{Cursor, Read};

use sintra_domain::i18n::{Message, Text};
use zip::CompressionMethod;

const MIB: u64 = 1024 * 1024;

/// Limits of an accepted workbook. The defaults are the documented limits
/// of the import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportLimits {
    /// Size of the uploaded file. Default 25 MiB: a 100,000-row victim
    /// workbook saved by Excel is about 8–12 MiB.
    pub max_file_bytes: u64,
    /// Declared uncompressed size of one zip entry. Default 200 MiB: the
    /// sheet XML of 100,000 rows × 30 columns is about 120 MiB.
    pub max_entry_bytes: u64,
    /// Sum of the declared uncompressed sizes. Default 256 MiB.
    pub max_total_bytes: u64,
    /// Uncompressed / compressed size of an entry larger than
    /// [`ImportLimits::ratio_floor_bytes`]. Default 200: real sheet XML
    /// compresses 10–40×; deflate's ceiling is about 1,032×.
    pub max_ratio: u64,
    /// Entries smaller than this are not held to the ratio (a small part of
    /// repeated text compresses well and harms nobody). Default 1 MiB.
    pub ratio_floor_bytes: u64,
    /// Number of zip entries. Default 10,000.
    pub max_entries: usize,
    /// Data rows (below the header). Default 100,000: a worksheet may reach
    /// row `max_rows + 1` (the header and the data).
    pub max_rows: u32,
    /// Columns of a worksheet. Default 200 (the largest form has about 30
    /// fields).
    pub max_columns: u32,
}

impl Default for ImportLimits {
    fn default() -> ImportLimits {
        ImportLimits {
            max_file_bytes: 25 * MIB,
            max_entry_bytes: 200 * MIB,
            max_total_bytes: 256 * MIB,
            max_ratio: 200,
            ratio_floor_bytes: MIB,
            max_entries: 10_000,
            max_rows: 100_000,
            max_columns: 200,
        }
    }
}

impl ImportLimits {
    /// The last worksheet row (1-based) a workbook may use: the header and
    /// [`ImportLimits::max_rows`] data rows.
    pub fn max_sheet_rows(&self) -> u64 {
        u64::from(self.max_rows) + 1
    }
}

/// What a file that is not an `.xlsx` workbook turned out to be, so the
/// message can tell the operator how to fix it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// An Excel 97-2003 workbook (`.xls`) or another OLE2 document.
    LegacyExcel,
    /// An OpenDocument spreadsheet (`.ods`).
    OpenDocument,
    /// An Excel binary workbook (`.xlsb`).
    BinaryExcel,
    /// A zip that is not a spreadsheet (a `.docx`, a plain archive).
    OtherZip,
    /// Anything else.
    Unknown,
}

/// Why a file was taken for a zip bomb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BombReason {
    /// One entry declares more uncompressed bytes than the limit.
    EntryTooLarge { size: u64, max: u64 },
    /// The entries together declare more than the limit.
    TotalTooLarge { size: u64, max: u64 },
    /// A large entry compresses more than real workbooks do.
    Ratio { ratio: u64, max: u64 },
    /// More zip entries than the limit.
    TooManyEntries { count: u64, max: u64 },
    /// The shared-string table declares more strings than it can hold.
    StringCount { declared: u64, max: u64 },
}

/// A workbook refused as a whole, before or while reading it. Each has a
/// stable machine [`code`](GuardError::code) and a Spanish and English
/// [`message`](GuardError::message) for the operator; none contains data
/// from the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    #[error("the file is {size} bytes, over the limit of {max}")]
    FileTooLarge { size: u64, max: u64 },
    #[error("not an .xlsx workbook ({found:?})")]
    NotAWorkbook { found: FileKind },
    #[error("the workbook contains macros")]
    MacrosNotAllowed,
    #[error("the workbook is password-protected")]
    Encrypted,
    #[error("zip bomb: {reason:?}")]
    ZipBomb { reason: BombReason },
    #[error("a worksheet declares {rows} rows × {columns} columns")]
    TooLarge {
        rows: u64,
        columns: u64,
        max_rows: u64,
        max_columns: u64,
    },
    #[error("a worksheet has {rows} rows, over the limit of {max_rows}")]
    TooManyRows { rows: u64, max_rows: u64 },
    #[error("no visible sheet has the form's headers in its first row")]
    NoDataSheet { form: Text },
    #[error("the workbook is damaged or not well formed")]
    Malformed,
}

impl GuardError {
    /// The machine code (English snake_case, stable).
    pub fn code(&self) -> ErrorCode {
        match self {
            GuardError::FileTooLarge { .. } => ErrorCode::FileTooLarge,
            GuardError::NotAWorkbook { .. } => ErrorCode::NotAWorkbook,
            GuardError::MacrosNotAllowed => ErrorCode::MacrosNotAllowed,
            GuardError::Encrypted => ErrorCode::EncryptedWorkbook,
            GuardError::ZipBomb { .. } => ErrorCode::ZipBomb,
            GuardError::TooLarge { .. } => ErrorCode::SheetTooLarge,
            GuardError::TooManyRows { .. } => ErrorCode::TooManyRows,
            GuardError::NoDataSheet { .. } => ErrorCode::NoDataSheet,
            GuardError::Malformed => ErrorCode::MalformedWorkbook,
        }
    }

    /// The HTTP status that fits: 413 for size limits, 415 for a file that
    /// is not an `.xlsx`, 422 for the rest.
    pub fn status(&self) -> u16 {
        match self {
            GuardError::FileTooLarge { .. }
            | GuardError::ZipBomb { .. }
            | GuardError::TooLarge { .. }
            | GuardError::TooManyRows { .. } => 413,
            GuardError::NotAWorkbook { .. } => 415,
            GuardError::MacrosNotAllowed
            | GuardError::Encrypted
            | GuardError::NoDataSheet { .. }
            | GuardError::Malformed => 422,
        }
    }

    /// What to tell the operator, in Spanish and English.
    pub fn message(&self) -> Message {
        const SAVE_AS_ES: &str = "Ábralo en Excel y guárdelo como «Libro de Excel (.xlsx)».";
        const SAVE_AS_EN: &str = "Open it in Excel and save it as \"Excel Workbook (.xlsx)\".";
        match *self {
            GuardError::FileTooLarge { size, max } => Message::new(
                format!(
                    "El archivo pesa {} y el máximo es {}. Divídalo en varios archivos.",
                    megabytes(size),
                    megabytes(max)
                ),
                format!(
                    "The file is {} and the limit is {}. Split it into several files.",
                    megabytes(size),
                    megabytes(max)
                ),
            ),
            GuardError::NotAWorkbook { found } => {
                let (es, en) = match found {
                    FileKind::LegacyExcel => (
                        "El archivo es un libro de Excel 97-2003 (.xls) u otro documento \
                         antiguo de Office.",
                        "The file is an Excel 97-2003 workbook (.xls) or another legacy \
                         Office document.",
                    ),
                    FileKind::OpenDocument => (
                        "El archivo es una hoja de cálculo OpenDocument (.ods).",
                        "The file is an OpenDocument spreadsheet (.ods).",
                    ),
                    FileKind::BinaryExcel => (
                        "El archivo es un libro binario de Excel (.xlsb).",
                        "The file is an Excel binary workbook (.xlsb).",
                    ),
                    FileKind::OtherZip | FileKind::Unknown => (
                        "El archivo no es un libro de Excel (.xlsx).",
                        "The file is not an Excel workbook (.xlsx).",
                    ),
                };
                Message::new(format!("{es} {SAVE_AS_ES}"), format!("{en} {SAVE_AS_EN}"))
            }
            GuardError::MacrosNotAllowed => Message::new(
                "El archivo contiene macros (.xlsm). Por seguridad no se aceptan libros con \
                 macros: guárdelo como «Libro de Excel (.xlsx)», sin macros.",
                "The file contains macros (.xlsm). Workbooks with macros are refused for \
                 safety: save it as \"Excel Workbook (.xlsx)\", without macros.",
            ),
            GuardError::Encrypted => Message::new(
                "El archivo está protegido con contraseña. Quite la contraseña (Archivo › \
                 Información › Proteger libro › Cifrar con contraseña) y vuelva a enviarlo.",
                "The file is password-protected. Remove the password (File › Info › Protect \
                 Workbook › Encrypt with Password) and send it again.",
            ),
            GuardError::ZipBomb { reason } => {
                let (es, en) = match reason {
                    BombReason::EntryTooLarge { size, max }
                    | BombReason::TotalTooLarge { size, max } => (
                        format!(
                            "Su contenido ocupa {} sin comprimir y el máximo es {}.",
                            megabytes(size),
                            megabytes(max)
                        ),
                        format!(
                            "Its content takes {} uncompressed and the limit is {}.",
                            megabytes(size),
                            megabytes(max)
                        ),
                    ),
                    BombReason::Ratio { ratio, max } => (
                        format!(
                            "Una de sus partes se comprime {ratio} veces y un libro real no \
                             pasa de {max}."
                        ),
                        format!(
                            "One of its parts is compressed {ratio} times and a real workbook \
                             stays under {max}."
                        ),
                    ),
                    BombReason::TooManyEntries { count, max } => (
                        format!(
                            "Contiene {} partes y el máximo es {}.",
                            thousands(count),
                            thousands(max)
                        ),
                        format!(
                            "It contains {} parts and the limit is {}.",
                            thousands(count),
                            thousands(max)
                        ),
                    ),
                    BombReason::StringCount { declared, max } => (
                        format!(
                            "Declara {} textos y su tamaño admite a lo más {}.",
                            thousands(declared),
                            thousands(max)
                        ),
                        format!(
                            "It declares {} strings and its size holds at most {}.",
                            thousands(declared),
                            thousands(max)
                        ),
                    ),
                };
                Message::new(
                    format!(
                        "El archivo tiene una estructura anómala al descomprimirse y no se \
                         procesa. {es} Si es un libro legítimo, guárdelo de nuevo en Excel o \
                         divídalo en archivos más pequeños."
                    ),
                    format!(
                        "The file has an abnormal structure once decompressed and is not \
                         processed. {en} If it is a genuine workbook, save it again in Excel \
                         or split it into smaller files."
                    ),
                )
            }
            GuardError::TooLarge {
                rows,
                columns,
                max_rows,
                max_columns,
            } => Message::new(
                format!(
                    "Una hoja del libro declara un rango de {} filas por {} columnas; el máximo \
                     es {} filas (el encabezado y {} registros) y {} columnas. Elimine las \
                     filas y columnas sobrantes, aunque estén vacías, o divida el archivo.",
                    thousands(rows),
                    thousands(columns),
                    thousands(max_rows),
                    thousands(max_rows.saturating_sub(1)),
                    thousands(max_columns)
                ),
                format!(
                    "A worksheet declares a range of {} rows by {} columns; the limit is {} rows \
                     (the header and {} records) and {} columns. Delete the extra rows and \
                     columns, even empty ones, or split the file.",
                    thousands(rows),
                    thousands(columns),
                    thousands(max_rows),
                    thousands(max_rows.saturating_sub(1)),
                    thousands(max_columns)
                ),
            ),
            GuardError::TooManyRows { rows, max_rows } => Message::new(
                format!(
                    "Una hoja del libro llega a {} filas; el máximo por archivo es {} filas (el \
                     encabezado y {} registros). Divida el archivo o elimine las filas \
                     sobrantes, aunque estén vacías.",
                    thousands(rows),
                    thousands(max_rows),
                    thousands(max_rows.saturating_sub(1))
                ),
                format!(
                    "A worksheet reaches {} rows; the limit per file is {} rows (the header \
                     and {} records). Split the file or delete the extra rows, even empty ones.",
                    thousands(rows),
                    thousands(max_rows),
                    thousands(max_rows.saturating_sub(1))
                ),
            ),
            GuardError::NoDataSheet { form } => Message::new(
                format!(
                    "Ninguna hoja visible del libro tiene en su primera fila los encabezados del \
                     formulario «{}». Use la plantilla del formulario y no cambie sus \
                     encabezados.",
                    form.es
                ),
                format!(
                    "No visible sheet of the workbook has the headers of the form \"{}\" in its \
                     first row. Use the form's template and keep its headers.",
                    form.en
                ),
            ),
            GuardError::Malformed => Message::new(
                "El archivo está dañado o no tiene la estructura de un libro de Excel (.xlsx). \
                 Ábralo en Excel, guárdelo de nuevo y vuelva a enviarlo.",
                "The file is damaged or is not structured as an Excel workbook (.xlsx). Open \
                 it in Excel, save it again and send it again.",
            ),
        }
    }
}

/// `1234567` → `1,234,567` (Mexico and English agree on the separators).
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    digits
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(String::from_utf8_lossy)
        .collect::<Vec<_>>()
        .join(",")
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / MIB as f64)
}

const OLE2_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// Checks a workbook's bytes against `limits` before anything parses them.
/// `Ok` means calamine may open it: what it declares is within the limits.
pub fn check(bytes: &[u8], limits: &ImportLimits) -> Result<(), GuardError> {
    let size = bytes.len() as u64;
    if size > limits.max_file_bytes {
        return Err(GuardError::FileTooLarge {
            size,
            max: limits.max_file_bytes,
        });
    }
    if bytes.starts_with(&OLE2_MAGIC) {
        // Excel wraps a password-protected .xlsx in an OLE2 file whose
        // directory names an "EncryptedPackage" stream (UTF-16LE).
        let needle: Vec<u8> = "EncryptedPackage"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        return Err(if contains(bytes, &needle) {
            GuardError::Encrypted
        } else {
            GuardError::NotAWorkbook {
                found: FileKind::LegacyExcel,
            }
        });
    }
    if !bytes.starts_with(b"PK\x03\x04") {
        return Err(GuardError::NotAWorkbook {
            found: FileKind::Unknown,
        });
    }
    let mut archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|_| GuardError::NotAWorkbook {
            found: FileKind::Unknown,
        })?;
    if archive.len() > limits.max_entries {
        return Err(GuardError::ZipBomb {
            reason: BombReason::TooManyEntries {
                count: archive.len() as u64,
                max: limits.max_entries as u64,
            },
        });
    }

    let mut names = Vec::with_capacity(archive.len());
    let mut total: u64 = 0;
    for index in 0..archive.len() {
        let entry = archive
            .by_index_raw(index)
            .map_err(|_| GuardError::Malformed)?;
        // calamine finds parts case-insensitively and with either slash.
        let name = entry
            .name()
            .map_err(|_| GuardError::Malformed)?
            .replace('\\', "/")
            .to_ascii_lowercase();
        if entry.encrypted() {
            return Err(GuardError::Encrypted);
        }
        if name.ends_with("vbaproject.bin") {
            return Err(GuardError::MacrosNotAllowed);
        }
        let declared = entry.size();
        if declared > limits.max_entry_bytes {
            return Err(GuardError::ZipBomb {
                reason: BombReason::EntryTooLarge {
                    size: declared,
                    max: limits.max_entry_bytes,
                },
            });
        }
        total = total.saturating_add(declared);
        if total > limits.max_total_bytes {
            return Err(GuardError::ZipBomb {
                reason: BombReason::TotalTooLarge {
                    size: total,
                    max: limits.max_total_bytes,
                },
            });
        }
        if declared > limits.ratio_floor_bytes {
            let ratio = declared / entry.compressed_size().max(1);
            if ratio > limits.max_ratio {
                return Err(GuardError::ZipBomb {
                    reason: BombReason::Ratio {
                        ratio,
                        max: limits.max_ratio,
                    },
                });
            }
        }
        if !matches!(
            entry.compression(),
            CompressionMethod::Stored | CompressionMethod::Deflated
        ) {
            return Err(GuardError::Malformed);
        }
        names.push((name, declared));
    }
    if !names.iter().any(|(n, _)| n == "[content_types].xml") {
        let found = if names.iter().any(|(n, _)| n == "mimetype") {
            FileKind::OpenDocument
        } else {
            FileKind::OtherZip
        };
        return Err(GuardError::NotAWorkbook { found });
    }

    let mut is_spreadsheet = false;
    for (index, (name, declared)) in names.iter().enumerate() {
        let mode = if name == "[content_types].xml" {
            Mode::ContentTypes
        } else if name.rsplit('/').next() == Some("sharedstrings.xml") {
            Mode::SharedStrings {
                max: (declared / 5).min(MAX_SHARED_STRINGS),
            }
        } else if name.ends_with(".xml") || name.ends_with(".rels") {
            Mode::Part
        } else {
            continue;
        };
        let entry = archive.by_index(index).map_err(|_| GuardError::Malformed)?;
        let mut scan = PartScan {
            mode,
            limits,
            root: None,
            done_strings: false,
            done_sheet: false,
            is_spreadsheet: &mut is_spreadsheet,
        };
        scan.run(entry)?;
    }
    if !is_spreadsheet {
        return Err(GuardError::NotAWorkbook {
            found: FileKind::OtherZip,
        });
    }
    Ok(())
}

/// A bound on the shared strings of any workbook we read: more would need
/// more cells than [`ImportLimits`] lets through. Bounds calamine's
/// up-front reservation to a few hundred MiB of address space.
const MAX_SHARED_STRINGS: u64 = 10_000_000;

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// What to look for in one XML part.
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// `[Content_Types].xml`: every declared content type.
    ContentTypes,
    /// A shared-string table: calamine reserves the `uniqueCount` of the
    /// first `sst` element it meets, wherever it is.
    SharedStrings { max: u64 },
    /// Any other part: a worksheet's `dimension` (before `sheetData`, where
    /// calamine reads it); other roots are done once seen.
    Part,
}

struct PartScan<'a> {
    mode: Mode,
    limits: &'a ImportLimits,
    root: Option<Vec<u8>>,
    done_strings: bool,
    done_sheet: bool,
    is_spreadsheet: &'a mut bool,
}

impl PartScan<'_> {
    fn run(&mut self, mut entry: impl Read) -> Result<(), GuardError> {
        let mut scanner = TagScanner::default();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match entry.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                // Inflating past the declared size, a bad CRC, bad deflate data.
                Err(_) => return Err(GuardError::Malformed),
            };
            let flow = scanner.feed(&buf[..n], &mut |tag| self.on_tag(tag))?;
            if flow == Flow::Stop {
                return Ok(());
            }
        }
    }

    fn on_tag(&mut self, tag: &Tag<'_>) -> Result<Flow, GuardError> {
        let name = local_name(tag.content);
        if self.root.is_none() {
            self.root = Some(name.to_vec());
        }
        match self.mode {
            Mode::ContentTypes => {
                if let Some(ct) = attribute(tag.content, b"ContentType") {
                    let ct = String::from_utf8_lossy(ct).to_ascii_lowercase();
                    if ct.contains("sheet.binary") {
                        return Err(GuardError::NotAWorkbook {
                            found: FileKind::BinaryExcel,
                        });
                    }
                    if ct.contains("macroenabled")
                        || ct.contains("vbaproject")
                        || ct.contains("macrosheet")
                    {
                        return Err(GuardError::MacrosNotAllowed);
                    }
                    if ct.contains("spreadsheetml.sheet.main")
                        || ct.contains("spreadsheetml.template.main")
                    {
                        *self.is_spreadsheet = true;
                    }
                }
                if tag.overflow {
                    return Err(GuardError::Malformed);
                }
                Ok(Flow::Continue)
            }
            Mode::SharedStrings { max } => {
                if name == b"sst" && !self.done_strings {
                    if tag.overflow {
                        return Err(GuardError::Malformed);
                    }
                    self.done_strings = true;
                    if let Some(value) = attribute(tag.content, b"uniqueCount") {
                        check_string_count(value, max)?;
                    }
                }
                self.part_tag(name, tag)?;
                Ok(if self.done_strings && self.sheet_done() {
                    Flow::Stop
                } else {
                    Flow::Continue
                })
            }
            Mode::Part => {
                self.part_tag(name, tag)?;
                Ok(if self.sheet_done() {
                    Flow::Stop
                } else {
                    Flow::Continue
                })
            }
        }
    }

    fn is_worksheet(&self) -> bool {
        self.root.as_deref() == Some(b"worksheet")
    }

    fn sheet_done(&self) -> bool {
        !self.is_worksheet() || self.done_sheet
    }

    fn part_tag(&mut self, name: &[u8], tag: &Tag<'_>) -> Result<(), GuardError> {
        if !self.is_worksheet() || self.done_sheet {
            return Ok(());
        }
        match name {
            b"dimension" => {
                if tag.overflow {
                    return Err(GuardError::Malformed);
                }
                if let Some(reference) = attribute(tag.content, b"ref") {
                    check_dimension(reference, self.limits)?;
                }
            }
            b"sheetData" => self.done_sheet = true,
            _ => {}
        }
        Ok(())
    }
}

fn check_string_count(value: &[u8], max: u64) -> Result<(), GuardError> {
    let text = std::str::from_utf8(value).unwrap_or("").trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        // calamine ignores a count it cannot parse.
        return Ok(());
    }
    let declared = text.parse::<u64>().unwrap_or(u64::MAX);
    if declared > max {
        return Err(GuardError::ZipBomb {
            reason: BombReason::StringCount { declared, max },
        });
    }
    Ok(())
}

/// Checks a `ref` such as `A1:XFD1048576` (or a single cell `A1`).
fn check_dimension(reference: &[u8], limits: &ImportLimits) -> Result<(), GuardError> {
    let text = String::from_utf8_lossy(reference);
    // A ref calamine cannot parse makes it fail cleanly; nothing to add.
    let Some((rows, columns)) = text
        .split(':')
        .map(parse_cell)
        .collect::<Option<Vec<_>>>()
        .and_then(|cells| cells.last().copied())
    else {
        return Ok(());
    };
    if columns > u64::from(limits.max_columns) {
        return Err(GuardError::TooLarge {
            rows,
            columns,
            max_rows: limits.max_sheet_rows(),
            max_columns: u64::from(limits.max_columns),
        });
    }
    if rows > limits.max_sheet_rows() {
        return Err(GuardError::TooManyRows {
            rows,
            max_rows: limits.max_sheet_rows(),
        });
    }
    Ok(())
}

/// `XFD1048576` → `(1048576, 16384)`: the 1-based row and column.
fn parse_cell(cell: &str) -> Option<(u64, u64)> {
    let cell = cell.trim().replace('$', "");
    let split = cell.find(|c: char| c.is_ascii_digit())?;
    let (letters, digits) = cell.split_at(split);
    if letters.is_empty() || letters.len() > 7 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut column: u64 = 0;
    for c in letters.chars() {
        if !c.is_ascii_alphabetic() {
            return None;
        }
        column = column * 26 + u64::from(c.to_ascii_uppercase() as u8 - b'A' + 1);
    }
    let row = digits.parse::<u64>().unwrap_or(u64::MAX);
    Some((row, column))
}

// A streaming scanner of XML start tags: enough XML to find what calamine
// will read (comments, CDATA and processing instructions are skipped as the
// XML reader skips them; quoted `>` stays inside its attribute), without
// holding more than one tag.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

/// The bytes of one start tag between `<` and `>`; `overflow` when it was
/// longer than [`MAX_TAG`] and got cut.
struct Tag<'a> {
    content: &'a [u8],
    overflow: bool,
}

/// Longer start tags are cut (a real one is under a few hundred bytes).
const MAX_TAG: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    #[default]
    Text,
    /// Just after `<`.
    Open,
    /// After `<!`, deciding between a comment, CDATA and a declaration.
    Bang,
    /// Inside `<!-- -->`, counting the dashes just seen.
    Comment(u8),
    /// Inside `<![CDATA[ ]]>`, counting the brackets just seen.
    Cdata(u8),
    /// Inside `<? ?>`, whether the last byte was `?`.
    Instruction(bool),
    /// Inside another `<! >` declaration.
    Declaration,
    /// Inside `</ >`.
    EndTag,
    /// Inside a start tag; the open quote, if any.
    StartTag(Option<u8>),
}

#[derive(Default)]
struct TagScanner {
    state: State,
    tag: Vec<u8>,
    overflow: bool,
    bang: Vec<u8>,
}

impl TagScanner {
    fn feed(
        &mut self,
        chunk: &[u8],
        on_tag: &mut dyn FnMut(&Tag<'_>) -> Result<Flow, GuardError>,
    ) -> Result<Flow, GuardError> {
        let mut i = 0;
        while i < chunk.len() {
            let b = chunk[i];
            i += 1;
            self.state = match self.state {
                State::Text => match chunk[i - 1..].iter().position(|&c| c == b'<') {
                    Some(p) => {
                        i += p;
                        State::Open
                    }
                    None => {
                        i = chunk.len();
                        State::Text
                    }
                },
                State::Open => match b {
                    b'?' => State::Instruction(false),
                    b'!' => {
                        self.bang.clear();
                        State::Bang
                    }
                    b'/' => State::EndTag,
                    b'>' => State::Text,
                    _ => {
                        self.tag.clear();
                        self.overflow = false;
                        self.tag.push(b);
                        State::StartTag(None)
                    }
                },
                State::Bang => {
                    self.bang.push(b);
                    if self.bang == b"--" {
                        State::Comment(0)
                    } else if self.bang == b"[CDATA[" {
                        State::Cdata(0)
                    } else if self.bang.eq_ignore_ascii_case(b"DOCTYPE") {
                        // Workbooks never carry one; entity tricks start here.
                        return Err(GuardError::Malformed);
                    } else if b"--".starts_with(&self.bang)
                        || b"[CDATA[".starts_with(&self.bang)
                        || b"DOCTYPE".starts_with(&self.bang.to_ascii_uppercase())
                    {
                        State::Bang
                    } else if b == b'>' {
                        State::Text
                    } else {
                        State::Declaration
                    }
                }
                State::Comment(dashes) => match b {
                    b'-' => State::Comment((dashes + 1).min(2)),
                    b'>' if dashes >= 2 => State::Text,
                    _ => State::Comment(0),
                },
                State::Cdata(brackets) => match b {
                    b']' => State::Cdata((brackets + 1).min(2)),
                    b'>' if brackets >= 2 => State::Text,
                    _ => State::Cdata(0),
                },
                State::Instruction(question) => match b {
                    b'?' => State::Instruction(true),
                    b'>' if question => State::Text,
                    _ => State::Instruction(false),
                },
                State::Declaration | State::EndTag => {
                    if b == b'>' {
                        State::Text
                    } else {
                        self.state
                    }
                }
                State::StartTag(quote) => {
                    let next = match (quote, b) {
                        (Some(q), c) if c == q => State::StartTag(None),
                        (Some(_), _) => self.state,
                        (None, b'"' | b'\'') => State::StartTag(Some(b)),
                        (None, b'>') => State::Text,
                        (None, _) => self.state,
                    };
                    if next == State::Text {
                        let flow = on_tag(&Tag {
                            content: &self.tag,
                            overflow: self.overflow,
                        })?;
                        if flow == Flow::Stop {
                            return Ok(Flow::Stop);
                        }
                    } else if self.tag.len() < MAX_TAG {
                        self.tag.push(b);
                    } else {
                        self.overflow = true;
                    }
                    next
                }
            };
        }
        Ok(Flow::Continue)
    }
}

/// The element name of a start tag, without its namespace prefix.
fn local_name(tag: &[u8]) -> &[u8] {
    let end = tag
        .iter()
        .position(|&b| b.is_ascii_whitespace() || b == b'/')
        .unwrap_or(tag.len());
    let name = &tag[..end];
    match name.iter().rposition(|&b| b == b':') {
        Some(p) => &name[p + 1..],
        None => name,
    }
}

/// The raw value of the attribute `wanted` (matched exactly, as calamine
/// matches it) of a start tag.
fn attribute<'a>(tag: &'a [u8], wanted: &[u8]) -> Option<&'a [u8]> {
    let mut i = tag
        .iter()
        .position(|&b| b.is_ascii_whitespace() || b == b'/')
        .unwrap_or(tag.len());
    loop {
        while i < tag.len() && (tag[i].is_ascii_whitespace() || tag[i] == b'/') {
            i += 1;
        }
        if i >= tag.len() {
            return None;
        }
        let name_start = i;
        while i < tag.len() && tag[i] != b'=' && !tag[i].is_ascii_whitespace() {
            i += 1;
        }
        let name = &tag[name_start..i];
        while i < tag.len() && tag[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= tag.len() || tag[i] != b'=' {
            // An attribute without a value: not XML; skip the word.
            continue;
        }
        i += 1;
        while i < tag.len() && tag[i].is_ascii_whitespace() {
            i += 1;
        }
        let quote = *tag.get(i)?;
        if quote != b'"' && quote != b'\'' {
            return None;
        }
        i += 1;
        let value_start = i;
        while i < tag.len() && tag[i] != quote {
            i += 1;
        }
        let value = &tag[value_start..i.min(tag.len())];
        i += 1;
        if name == wanted {
            return Some(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(xml: &[u8], chunk: usize) -> Vec<String> {
        let mut scanner = TagScanner::default();
        let mut out = Vec::new();
        for part in xml.chunks(chunk) {
            scanner
                .feed(part, &mut |t| {
                    out.push(String::from_utf8_lossy(t.content).into_owned());
                    Ok(Flow::Continue)
                })
                .unwrap();
        }
        out
    }

    #[test]
    fn scanner_skips_comments_cdata_and_instructions_and_keeps_quoted_gt() {
        let xml = br#"<?xml version="1.0"?><!-- <sst uniqueCount="9"> --><a x="1>2"><![CDATA[<b>]]><c/></a>"#;
        for chunk in [1, 2, 3, 7, 1000] {
            assert_eq!(
                tags(xml, chunk),
                vec![r#"a x="1>2""#, "c/"],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn scanner_refuses_doctype() {
        let mut scanner = TagScanner::default();
        let r = scanner.feed(b"<!DOCTYPE x [<!ENTITY a 'b'>]><x/>", &mut |_| {
            Ok(Flow::Continue)
        });
        assert_eq!(r, Err(GuardError::Malformed));
    }

    #[test]
    fn attributes_and_names() {
        let tag = br#"x:sst xmlns:x="u" count = '3' uniqueCount="12""#;
        assert_eq!(local_name(tag), b"sst");
        assert_eq!(attribute(tag, b"uniqueCount"), Some(&b"12"[..]));
        assert_eq!(attribute(tag, b"count"), Some(&b"3"[..]));
        assert_eq!(attribute(tag, b"ref"), None);
    }

    #[test]
    fn cells_and_dimensions() {
        assert_eq!(parse_cell("A1"), Some((1, 1)));
        assert_eq!(parse_cell("XFD1048576"), Some((1_048_576, 16_384)));
        assert_eq!(parse_cell("$B$7"), Some((7, 2)));
        assert_eq!(parse_cell("7"), None);
        let limits = ImportLimits::default();
        assert_eq!(check_dimension(b"A1:AD100001", &limits), Ok(()));
        assert!(matches!(
            check_dimension(b"A1:AD100002", &limits),
            Err(GuardError::TooManyRows { rows: 100_002, .. })
        ));
        assert!(matches!(
            check_dimension(b"A1:XFD1048576", &limits),
            Err(GuardError::TooLarge {
                columns: 16_384,
                ..
            })
        ));
        assert_eq!(check_dimension(b"garbage", &limits), Ok(()));
    }

    #[test]
    fn numbers_get_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_048_576), "1,048,576");
    }

    #[test]
    fn every_refusal_has_a_code_and_both_messages() {
        let all = [
            GuardError::FileTooLarge { size: 1, max: 1 },
            GuardError::NotAWorkbook {
                found: FileKind::LegacyExcel,
            },
            GuardError::MacrosNotAllowed,
            GuardError::Encrypted,
            GuardError::ZipBomb {
                reason: BombReason::Ratio { ratio: 1, max: 1 },
            },
            GuardError::TooLarge {
                rows: 1,
                columns: 1,
                max_rows: 1,
                max_columns: 1,
            },
            GuardError::TooManyRows {
                rows: 1,
                max_rows: 1,
            },
            GuardError::NoDataSheet {
                form: Text::new("Sesión", "Session"),
            },
            GuardError::Malformed,
        ];
        let mut codes = std::collections::HashSet::new();
        for e in all {
            assert!(codes.insert(e.code()));
            let m = e.message();
            assert!(!m.es.is_empty() && !m.en.is_empty());
            assert!((400..500).contains(&e.status()));
        }
    }
}
