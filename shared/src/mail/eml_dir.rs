//! The dev server's mail adapter: each message becomes one RFC 5322 `.eml` file in a folder
//! (`MAIL_DIR`), which any mail client opens. Nothing leaves the machine.

use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::{MailError, Mailer, OutgoingMail, Sent};

/// Writes messages as `.eml` files into one folder, made on first use.
#[derive(Clone, Debug)]
pub struct EmlDir {
    dir: PathBuf,
}

impl EmlDir {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The folder the files go to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `<unix ms, 13 digits>-<Message-ID's left part>.eml`: the folder lists oldest first, and
    /// two messages never share a name (the id is random).
    fn file_name(mail: &OutgoingMail, now_ms: u128) -> String {
        let id: String = mail
            .message_id
            .trim_matches(|c| c == '<' || c == '>')
            .split('@')
            .next()
            .unwrap_or_default()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        format!("{now_ms:013}-{id}.eml")
    }
}

#[async_trait]
impl Mailer for EmlDir {
    /// Writes the file whole or not at all: to a hidden temporary name first, then renamed, so a
    /// mail client watching the folder never opens half a message.
    async fn send(&self, mail: &OutgoingMail) -> Result<Sent, MailError> {
        // The file's time is the wall clock's: it only orders the folder's listing.
        let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis();
        let name = Self::file_name(mail, now_ms);
        let (dir, file, raw) = (self.dir.clone(), name.clone(), mail.raw.clone());
        let written = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            std::fs::create_dir_all(&dir)?;
            let tmp = dir.join(format!(".{file}.tmp"));
            std::fs::write(&tmp, &raw)?;
            std::fs::rename(&tmp, dir.join(&file))
        });
        match written.await {
            Ok(Ok(())) => Ok(Sent { provider_id: name }),
            // Not the recipient's fault: a folder someone can fix, a full disk. The worker tries
            // again on its schedule, and the message says why meanwhile.
            Ok(Err(e)) => Err(MailError::Unavailable(format!("cannot write {}: {e}", self.dir.join(&name).display()))),
            Err(e) => Err(MailError::Unavailable(format!("the file write did not finish: {e}"))),
        }
    }
}
