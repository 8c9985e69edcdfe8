//! The signing core's origin approvals kept in a file: the adapter of
//! [`crate::signing::ApprovalStore`] the agent uses.

use std::path::{Path, PathBuf};

use crate::signing::ApprovalStore;

/// User approvals of origins, kept in `DATA_DIR/approved-origins.toml` (`origins = [...]`).
pub struct ApprovalFile {
    path: PathBuf,
}

impl ApprovalFile {
    /// The file in `data_dir`.
    pub fn new(data_dir: &Path) -> Self {
        Self {
            path: data_dir.join("approved-origins.toml"),
        }
    }
}

#[derive(serde::Serialize, serde::Deserialize, Default)]
struct ApprovalList {
    origins: Vec<String>,
}

impl ApprovalStore for ApprovalFile {
    fn load(&self) -> Vec<String> {
        std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|text| toml::from_str::<ApprovalList>(&text).ok())
            .map(|list| list.origins)
            .unwrap_or_default()
    }

    fn save(&self, origins: &[String]) -> Result<(), String> {
        if let Some(dir) = self.path.parent() {
            crate::platform::files::private_dir(dir).map_err(|e| e.to_string())?;
        }
        let text = toml::to_string(&ApprovalList {
            origins: origins.to_vec(),
        })
        .map_err(|e| e.to_string())?;
        crate::platform::files::write_private(&self.path, text.as_bytes())
            .map_err(|e| e.to_string())
    }
}
