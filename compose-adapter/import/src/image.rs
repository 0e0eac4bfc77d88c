//! Recognising catalog services by image: an image reference is split into repository and
//! tag (Docker Hub's implicit `docker.io/` and `library/` removed), and the repository is
//! looked up among the catalog's repositories, then among known alternative images of the same
//! software (which become the catalog's own image, at its pinned version, reported).

use devstack_core::catalog::{self, CatalogEntry};

/// An image reference split into its parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRef {
    /// Repository without Docker Hub's implicit prefixes (`postgres`, `grafana/grafana`).
    pub repository: String,
    /// Tag, when one is given.
    pub tag: Option<String>,
    /// Digest (`sha256:…`), when one is given.
    pub digest: Option<String>,
}

/// Splits `image` into repository, tag and digest.
pub fn parse(image: &str) -> ImageRef {
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d.to_string())),
        None => (image, None),
    };
    // A tag is after the last ':' that comes after the last '/' (a registry port is not a tag).
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (repo, tag) = match rest[slash..].rfind(':') {
        Some(i) => (&rest[..slash + i], Some(rest[slash + i + 1..].to_string())),
        None => (rest, None),
    };
    ImageRef {
        repository: normalise(repo),
        tag,
        digest,
    }
}

/// Removes `docker.io/`, `index.docker.io/` and `library/`.
fn normalise(repo: &str) -> String {
    let repo = repo
        .strip_prefix("docker.io/")
        .or_else(|| repo.strip_prefix("index.docker.io/"))
        .unwrap_or(repo);
    repo.strip_prefix("library/").unwrap_or(repo).to_string()
}

/// Other images of a catalog type's software, with the reason the catalog's image replaces them.
const ALTERNATIVES: &[(&str, &str, &str)] = &[
    (
        "confluentinc/cp-kafka",
        "kafka",
        "Confluent's Kafka image; the catalog runs Apache Kafka (KRaft) with its own settings",
    ),
    ("bitnami/kafka", "kafka", "Bitnami's Kafka image"),
    ("bitnami/redis", "redis", "Bitnami's Redis image"),
    (
        "bitnami/postgresql",
        "postgres",
        "Bitnami's PostgreSQL image",
    ),
    ("bitnami/minio", "minio", "Bitnami's MinIO image"),
    ("bitnami/mongodb", "mongodb", "Bitnami's MongoDB image"),
    ("bitnami/rabbitmq", "rabbitmq", "Bitnami's RabbitMQ image"),
    ("ankane/pgvector", "pgvector", "the old pgvector image"),
    (
        "jaegertracing/all-in-one",
        "jaeger",
        "Jaeger v1 all-in-one; the catalog runs Jaeger v2",
    ),
    (
        "otel/opentelemetry-collector",
        "otel-collector",
        "the core collector; the catalog runs the contrib distribution",
    ),
];

/// The same image published under another name, with the same tags: the tag is kept.
const MIRRORS: &[(&str, &str)] = &[
    ("minio/minio", "minio"),
    ("elasticsearch", "elasticsearch"),
    ("semitechnologies/weaviate", "weaviate"),
];

/// How an image matched the catalog.
#[derive(Clone, Debug)]
pub struct CatalogMatch {
    /// The catalog entry.
    pub entry: &'static CatalogEntry,
    /// The version to write (`None`: the catalog's pinned default).
    pub version: Option<String>,
    /// Why the image or tag did not carry over as is (reported under `image`).
    pub note: Option<String>,
}

/// The catalog entry whose software `image` runs, if any.
pub fn recognise(image: &str) -> Option<CatalogMatch> {
    let r = parse(image);
    if let Some(entry) = catalog::ENTRIES
        .iter()
        .find(|e| normalise(e.repository) == r.repository)
    {
        return Some(same_repository(entry, &r));
    }
    if let Some((_, type_name)) = MIRRORS.iter().find(|(repo, _)| *repo == r.repository) {
        let entry = catalog::lookup(type_name)?;
        let mut found = same_repository(entry, &r);
        let note = format!("{image} is the same image as {}", entry.repository);
        found.note = Some(match found.note {
            Some(pinned) => format!("{note}; {pinned}"),
            None => format!("{note}, same tag"),
        });
        return Some(found);
    }
    let (_, type_name, why) = ALTERNATIVES
        .iter()
        .find(|(repo, _, _)| *repo == r.repository)?;
    let entry = catalog::lookup(type_name)?;
    Some(CatalogMatch {
        entry,
        version: None,
        note: Some(format!(
            "{image} is {why}: becomes type {type_name} at the catalog's version {} ({})",
            entry.default_version,
            entry.image(entry.default_version)
        )),
    })
}

fn same_repository(entry: &'static CatalogEntry, r: &ImageRef) -> CatalogMatch {
    let pinned = |why: &str| CatalogMatch {
        entry,
        version: None,
        note: Some(format!(
            "{why}: pinned to the catalog's version {}",
            entry.default_version
        )),
    };
    if r.digest.is_some() {
        return pinned("a digest cannot be a version");
    }
    match r.tag.as_deref() {
        None => pinned("no tag (latest)"),
        Some("latest") => pinned("tag latest"),
        Some(tag) => CatalogMatch {
            entry,
            version: Some(tag.to_string()),
            note: None,
        },
    }
}
