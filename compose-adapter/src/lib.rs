//! Compose renderer.
