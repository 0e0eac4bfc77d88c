//! The files of a running container, read through the Engine API (`GET
//! /containers/{id}/archive`, which needs no shell in the image): each bind mount's bytes
//! and mode as the container sees them, written back as the compose document's bind mounts
//! and files-digest label, so the live reading goes through the same reader as the rendering.

use bollard::models::ContainerInspectResponse;
use bollard::query_parameters::DownloadFromContainerOptionsBuilder;
use bollard::Docker;
use devstack_core::plan::{files_hash, PlannedFile};
use futures_util::TryStreamExt;
use serde_json::{json, Value};

use super::ParityError;

fn err(message: impl Into<String>) -> ParityError {
    ParityError::ReadBack {
        mode: "running containers",
        message: message.into(),
    }
}

/// The bind mounts of a container as compose volume entries, and the digest of the files they
/// hold (read from inside the container).
pub(crate) async fn read(
    docker: &Docker,
    inspect: &ContainerInspectResponse,
) -> Result<(Vec<Value>, Option<String>), ParityError> {
    let id = inspect.id.clone().unwrap_or_default();
    let mut entries = Vec::new();
    let mut files = Vec::new();
    for mount in inspect.mounts.iter().flatten() {
        if mount.typ.as_deref() != Some("bind") {
            continue;
        }
        let Some(target) = mount.destination.clone() else {
            continue;
        };
        let options = DownloadFromContainerOptionsBuilder::new()
            .path(&target)
            .build();
        let archive: Vec<u8> = docker
            .download_from_container(&id, Some(options))
            .map_ok(|chunk| chunk.to_vec())
            .try_concat()
            .await
            .map_err(|e| err(format!("reading {target} from the container: {e}")))?;
        let (mode, bytes) = first_file(&archive)
            .ok_or_else(|| err(format!("{target}: the container's archive holds no file")))?;
        entries
            .push(json!({"type": "bind", "target": target, "read_only": mount.rw == Some(false)}));
        files.push(PlannedFile::generated(
            target,
            bytes,
            mode,
            "running container",
        ));
    }
    Ok((entries, files_hash(&files)))
}

/// Mode and bytes of the first regular file of a tar archive (extended headers skipped).
fn first_file(archive: &[u8]) -> Option<(u32, Vec<u8>)> {
    let mut at = 0;
    while at + 512 <= archive.len() {
        let header = &archive[at..at + 512];
        if header.iter().all(|b| *b == 0) {
            return None;
        }
        let size = usize::try_from(octal(&header[124..136])?).ok()?;
        let data = at + 512;
        match header[156] {
            b'0' | 0 => {
                let mode = u32::try_from(octal(&header[100..108])? & 0o7777).ok()?;
                return Some((mode, archive.get(data..data + size)?.to_vec()));
            }
            _ => at = data + size.div_ceil(512) * 512,
        }
    }
    None
}

fn octal(field: &[u8]) -> Option<u64> {
    let text: String = field
        .iter()
        .take_while(|b| **b != 0)
        .map(|b| char::from(*b))
        .collect();
    u64::from_str_radix(text.trim(), 8).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &str, mode: u32, size: usize, kind: u8) -> Vec<u8> {
        let mut h = vec![0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(format!("{mode:07o}").as_bytes());
        h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        h[156] = kind;
        h
    }

    #[test]
    fn the_first_regular_file_is_read_past_extended_headers() {
        let pax = b"30 mtime=1700000000.123456789\n";
        let mut archive = header("././@PaxHeader", 0o644, pax.len(), b'x');
        archive.extend_from_slice(pax);
        archive.resize(1024, 0);
        archive.extend(header("a.sql", 0o100600, 5, b'0'));
        archive.extend_from_slice(b"hello");
        archive.resize(2048, 0);
        archive.extend(vec![0u8; 1024]);
        assert_eq!(first_file(&archive), Some((0o600, b"hello".to_vec())));
        assert_eq!(first_file(&[0u8; 1024]), None);
    }
}
