//! The customer's report as a PDF (issue 17), laid out by Typst used as a library: no browser
//! and no process at run time. The content is the HTML page's (`report_view::ReportView`),
//! handed to `templates/report/report.typ` as JSON data, never as markup: a customer's name
//! is text in the PDF whatever characters it holds, so nothing needs escaping.
//!
//! A4, page numbers ("Page n of m") and the brand in every page's header. The one font is
//! Liberation Sans (SIL Open Font License 1.1, `shared/fonts/`), compiled into the binary and
//! embedded (subset) in each PDF; the renderer reads no file and no system font.

use std::sync::LazyLock;

use typst::diag::{FileError, FileResult};
use typst::foundations::{Bytes, Datetime};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};
use typst_layout::PagedDocument;

use crate::report_view::ReportView;

/// The largest PDF served: a Lambda answer is at most 6 MB, and a binary body travels
/// base64-encoded (4/3 larger), so 4.4 MB is what fits with headers to spare.
pub const MAX_PDF_BYTES: usize = 4_400_000;

const TEMPLATE: &str = include_str!("../templates/report/report.typ");
const FONTS: [&[u8]; 3] = [
    include_bytes!("../fonts/LiberationSans-Regular.ttf"),
    include_bytes!("../fonts/LiberationSans-Bold.ttf"),
    include_bytes!("../fonts/LiberationSans-Italic.ttf"),
];

/// What renders a report's PDF: [`render`], handed to the app by the binaries that link Typst
/// (the dev server and `report-pdf`, the function behind `GET /reports/{token}`). The main
/// `bootstrap` hands none, so the linker leaves Typst out of it (issue 17: Typst is most of a
/// binary's size; the figures are in README's "Performance").
pub type PdfRenderer = fn(&ReportView) -> Result<Vec<u8>, PdfError>;

/// Why a PDF could not be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PdfError {
    /// The template did not compile against the view: this crate's mistake, never a user's.
    #[error("the report template failed: {0}")]
    Template(String),
    /// The PDF would exceed [`MAX_PDF_BYTES`].
    #[error("the report's PDF is {0} bytes, more than a response can carry")]
    TooLarge(usize),
}

/// What every compilation shares: the standard library and the fonts (parsed once).
struct Shared {
    library: LazyHash<Library>,
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
}

static SHARED: LazyLock<Shared> = LazyLock::new(|| {
    let fonts: Vec<Font> = FONTS.iter().flat_map(|data| Font::iter(Bytes::new(*data))).collect();
    assert_eq!(fonts.len(), FONTS.len(), "every shipped font parses");
    Shared { library: LazyHash::new(Library::default()), book: LazyHash::new(FontBook::from_fonts(&fonts)), fonts }
});

fn file_id(path: &str) -> FileId {
    RootedPath::new(VirtualRoot::Project, VirtualPath::new(path).expect("a valid virtual path")).intern()
}

/// One report's world: the template as `/report.typ` and the view as `/data.json`.
struct ReportWorld {
    main: Source,
    data_id: FileId,
    data: Bytes,
    today: Option<Datetime>,
}

impl World for ReportWorld {
    fn library(&self) -> &LazyHash<Library> {
        &SHARED.library
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &SHARED.book
    }

    fn main(&self) -> FileId {
        self.main.id()
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main.id() {
            Ok(self.main.clone())
        } else {
            Err(FileError::AccessDenied)
        }
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == self.data_id {
            Ok(self.data.clone())
        } else {
            Err(FileError::AccessDenied)
        }
    }

    fn font(&self, index: usize) -> Option<Font> {
        SHARED.fonts.get(index).cloned()
    }

    fn today(&self, _offset: Option<typst::foundations::Duration>) -> Option<Datetime> {
        self.today
    }
}

/// `#RRGGBB`, or the default brand colour: the template parses it, and branding validates it
/// on the way in, but a stored value is not trusted to compile.
fn safe_color(color: &str) -> String {
    let ok = color.len() == 7 && color.starts_with('#') && color[1..].chars().all(|c| c.is_ascii_hexdigit());
    if ok {
        color.to_string()
    } else {
        crate::domain::branding::DEFAULT_COLOR.to_string()
    }
}

/// The PDF of `view`. Errors: [`PdfError::TooLarge`] past [`MAX_PDF_BYTES`];
/// [`PdfError::Template`] if the template fails (a bug, which the tests render to catch).
pub fn render(view: &ReportView) -> Result<Vec<u8>, PdfError> {
    let mut data = serde_json::to_value(view).expect("a view serialises");
    data["brand"]["color"] = serde_json::Value::String(safe_color(&view.brand.color));
    let data = serde_json::to_vec(&data).expect("JSON serialises");
    let world = ReportWorld {
        main: Source::new(file_id("/report.typ"), TEMPLATE.to_string()),
        data_id: file_id("/data.json"),
        data: Bytes::new(data),
        today: None,
    };
    let document = typst::compile::<PagedDocument>(&world).output.map_err(|errors| {
        PdfError::Template(errors.iter().map(|e| e.message.to_string()).collect::<Vec<_>>().join("; "))
    })?;
    let options =
        typst_pdf::PdfOptions { ident: typst::foundations::Smart::Custom(view.run_id.clone()), ..Default::default() };
    let pdf = typst_pdf::pdf(&document, &options).map_err(|errors| {
        PdfError::Template(errors.iter().map(|e| e.message.to_string()).collect::<Vec<_>>().join("; "))
    })?;
    if pdf.len() > MAX_PDF_BYTES {
        return Err(PdfError::TooLarge(pdf.len()));
    }
    Ok(pdf)
}
