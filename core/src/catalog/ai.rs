//! Model serving: Ollama.

use super::{http_url, CatalogEntry, CatalogPort, EntryContext, EntryParts, Health, SizePreset};

fn build_ollama(ctx: &EntryContext) -> EntryParts {
    let mut parts = EntryParts::default();
    parts.env_lit("OLLAMA_HOST", "0.0.0.0:11434");
    // The CLI talks to the server named by OLLAMA_HOST (0.0.0.0 reaches the local one).
    parts.health = Some(Health::exec(&["ollama", "list"]));
    parts.data("models", "/root/.ollama");
    parts.connect(ctx, http_url(ctx, 11434, ""), 11434);
    parts
}

/// Ollama (runs as root; models live under /root/.ollama; no auth). Models need far more than
/// the medium preset; set resources (and `gpu`) for real use.
pub const OLLAMA: CatalogEntry = CatalogEntry {
    type_name: "ollama",
    description: "Ollama local LLM server",
    repository: "ollama/ollama",
    default_version: "0.13.5",
    stateful: true,
    ports: &[CatalogPort {
        name: "http",
        port: 11434,
    }],
    uid: 0,
    gid: 0,
    read_only_root: false,
    writable_paths: &[],
    add_capabilities: &[],
    size: SizePreset::Medium,
    secrets: &[],
    build: build_ollama,
};
