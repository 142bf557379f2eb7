//! Attachments on this machine: the name a received file is saved under, and
//! the media type of a file about to be sent.

/// A name that is safe to create in a local directory, from the name a peer
/// gave their file: no path separators, no control, bidi or invisible
/// characters, not starting with `.` or `-`, not a device name such as `CON`
/// or `NUL`, never empty. The same rule the server applies to the
/// `Content-Disposition` of a download ([`mchat_shared::validate::safe_file_name`]).
pub fn safe_file_name(name: &str) -> String {
    mchat_shared::validate::safe_file_name(name)
}

/// The media type to upload `path` as, from its extension
/// (`application/octet-stream` when unknown).
pub fn content_type_for(path: &std::path::Path) -> String {
    mime_guess::from_path(path)
        .first_or_octet_stream()
        .essence_str()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn hostile_names_become_plain_file_names() {
        for (given, want) in [
            ("report.pdf", "report.pdf"),
            ("../../etc/passwd", "passwd"),
            ("..\\..\\boot.ini", "boot.ini"),
            ("..", "download"),
            ("", "download"),
            (".bashrc", "bashrc"),
            ("-rf", "rf"),
            ("--help.txt", "help.txt"),
            ("CON", "_CON"),
            ("nul.txt", "_nul.txt"),
            ("Com1.tar.gz", "_Com1.tar.gz"),
            ("console.log", "console.log"),
            ("a\u{1b}[31mred", "a_[31mred"),
            ("evil\u{202E}fdp.exe", "evil_fdp.exe"),
            ("what?.txt", "what_.txt"),
            ("trailing. . ", "trailing"),
            ("tab\tname", "tab_name"),
        ] {
            assert_eq!(safe_file_name(given), want, "{given:?}");
        }
    }

    #[test]
    fn long_names_are_cut_keeping_the_extension() {
        let name = format!("{}.tar.gz", "é".repeat(300));
        let safe = safe_file_name(&name);
        assert!(safe.len() <= 200, "{}", safe.len());
        assert!(safe.ends_with(".gz"), "{safe}");
        assert!(safe.starts_with('é'));
    }

    #[test]
    fn content_types_come_from_the_extension() {
        assert_eq!(content_type_for(Path::new("a.pdf")), "application/pdf");
        assert_eq!(content_type_for(Path::new("notes.txt")), "text/plain");
        assert_eq!(content_type_for(Path::new("photo.PNG")), "image/png");
        assert_eq!(content_type_for(Path::new("noext")), "application/octet-stream");
    }
}
