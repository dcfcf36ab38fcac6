//! Annotating a module, like `kwctl annotate`: `policy-metadata.yml` (and a
//! usage file, as `io.kubewarden.policy.usage`) embedded as JSON in the
//! module's `io.kubewarden.metadata` custom section, replacing any earlier
//! one. Every other byte of the module is kept.
//!
//! The metadata file is validated (named errors for bad rules and missing
//! required annotations) and `protocolVersion` is set from the module:
//! - with the `wasm` feature, by calling the guest's `protocol_version`
//!   through the waPC host, as kwctl does;
//! - without it, from the module's shape: a core module that imports the
//!   waPC host functions and exports `__guest_call` is a waPC guest, and
//!   the only protocol a Kubewarden waPC guest speaks is `v1` (the SDK's
//!   `protocol_version` answers it; kwctl knows no other). A module that is
//!   not a waPC guest is refused, as kwctl refuses one whose
//!   `protocol_version` cannot be called.
//!
//! Rego and WASI modules (`executionMode` other than `kubewarden-wapc`)
//! have no `protocol_version`; kwctl records `Unknown`, and so does this.

use std::path::Path;

use anyhow::{Context, anyhow};

use crate::metadata::{ExecutionMode, METADATA_SECTION, Metadata, ProtocolVersion, keys};

/// Reads the module, the metadata file and the usage file, and returns the
/// annotated module.
pub fn annotate_file(
    wasm: &Path,
    metadata: &Path,
    usage: Option<&Path>,
) -> anyhow::Result<Vec<u8>> {
    let module = std::fs::read(wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
    let metadata = Metadata::from_yaml_file(metadata)?;
    let usage = usage
        .map(|path| {
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read usage file {}", path.display()))
        })
        .transpose()?;
    annotate(&module, metadata, usage)
        .with_context(|| format!("cannot annotate {}", wasm.display()))
}

/// [`annotate_file`], written to `output`.
pub fn annotate_to(
    wasm: &Path,
    metadata: &Path,
    usage: Option<&Path>,
    output: &Path,
) -> anyhow::Result<()> {
    let annotated = annotate_file(wasm, metadata, usage)?;
    std::fs::write(output, annotated).with_context(|| format!("cannot write {}", output.display()))
}

/// Annotates `module` with `metadata` (already validated as a source file)
/// and, if given, `usage`.
pub fn annotate(
    module: &[u8],
    mut metadata: Metadata,
    usage: Option<String>,
) -> anyhow::Result<Vec<u8>> {
    metadata.protocol_version = Some(match metadata.execution_mode {
        ExecutionMode::KubewardenWapc => protocol_version(module)
            .context("cannot compute the protocol version used by the policy")?,
        // Rego and WASI modules have no `protocol_version`; kwctl records Unknown.
        _ => ProtocolVersion::Unknown,
    });
    if let Some(usage) = usage {
        metadata.set_annotation(keys::USAGE, usage);
    }
    metadata.validate_annotated()?;
    let json = serde_json::to_vec(&metadata)?;
    crate::wasm::replace_custom_section(module, METADATA_SECTION, &json)
}

/// The guest's `protocol_version`, called through the waPC host as kwctl does.
#[cfg(feature = "wasm")]
fn protocol_version(module: &[u8]) -> anyhow::Result<ProtocolVersion> {
    let answer = crate::host::Policy::from_bytes(module)?.protocol_version()?;
    serde_json::from_value(serde_json::Value::String(answer.clone())).map_err(|_| {
        anyhow!("`protocol_version` answered {answer:?}, not a known protocol version")
    })
}

/// `v1` for a waPC guest (see the module documentation); an error otherwise.
#[cfg(not(feature = "wasm"))]
fn protocol_version(module: &[u8]) -> anyhow::Result<ProtocolVersion> {
    let guest = crate::wasm::is_wapc_guest(module)?;
    if guest {
        Ok(ProtocolVersion::V1)
    } else {
        Err(anyhow!(
            "the module is not a waPC guest (it does not import the `wapc` host functions and export `__guest_call`)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata() -> Metadata {
        Metadata::from_yaml_str(
            "rules: []\nmutating: false\nannotations: {io.kubewarden.policy.title: t, io.kubewarden.policy.version: 0.1.0, io.kubewarden.policy.description: d, io.kubewarden.policy.ociUrl: o/p, io.artifacthub.displayName: T}\n",
        )
        .expect("metadata")
    }

    /// A waPC guest: imports `wapc.__guest_response` and exports
    /// `__guest_call`, which answers `"v1"` to every operation (so its
    /// `protocol_version` answers `v1` through the waPC host too).
    fn guest() -> Vec<u8> {
        use wasm_encoder::{
            CodeSection, ConstExpr, DataSection, EntityType, ExportKind, ExportSection, Function,
            FunctionSection, ImportSection, MemorySection, MemoryType, Module, TypeSection,
            ValType,
        };
        let mut m = Module::new();
        let mut types = TypeSection::new();
        types.ty().function([ValType::I32, ValType::I32], []);
        types
            .ty()
            .function([ValType::I32, ValType::I32], [ValType::I32]);
        m.section(&types);
        let mut imports = ImportSection::new();
        imports.import("wapc", "__guest_response", EntityType::Function(0));
        m.section(&imports);
        let mut funcs = FunctionSection::new();
        funcs.function(1);
        m.section(&funcs);
        let mut memories = MemorySection::new();
        memories.memory(MemoryType {
            minimum: 1,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
        m.section(&memories);
        let mut exports = ExportSection::new();
        exports.export("memory", ExportKind::Memory, 0);
        exports.export("__guest_call", ExportKind::Func, 1);
        m.section(&exports);
        let mut code = CodeSection::new();
        let mut body = Function::new([]);
        body.instructions()
            .i32_const(0)
            .i32_const(4)
            .call(0)
            .i32_const(1)
            .end();
        code.function(&body);
        m.section(&code);
        let mut data = DataSection::new();
        data.active(0, &ConstExpr::i32_const(0), b"\"v1\"".iter().copied());
        m.section(&data);
        m.finish()
    }

    /// `(module (func (export "_start")))`: a WASI command, not a waPC guest.
    fn command() -> Vec<u8> {
        use wasm_encoder::{
            CodeSection, ExportKind, ExportSection, Function, FunctionSection, Module, TypeSection,
        };
        let mut m = Module::new();
        let mut types = TypeSection::new();
        types.ty().function([], []);
        m.section(&types);
        let mut funcs = FunctionSection::new();
        funcs.function(0);
        m.section(&funcs);
        let mut exports = ExportSection::new();
        exports.export("_start", ExportKind::Func, 0);
        m.section(&exports);
        let mut code = CodeSection::new();
        let mut body = Function::new([]);
        body.instructions().end();
        code.function(&body);
        m.section(&code);
        m.finish()
    }

    #[test]
    fn a_wapc_guest_is_annotated_with_v1_and_the_usage() {
        let module = guest();
        assert!(crate::wasm::is_wapc_guest(&module).expect("parses"));
        let annotated = annotate(&module, metadata(), Some("# usage\n".into())).expect("annotates");
        assert!(annotated.starts_with(&module), "only a section is appended");
        let embedded = Metadata::from_module(&annotated)
            .expect("parses")
            .expect("has metadata");
        assert_eq!(embedded.protocol_version, Some(ProtocolVersion::V1));
        assert_eq!(embedded.annotation(keys::USAGE), Some("# usage\n"));
    }

    #[test]
    fn a_module_that_is_not_a_wapc_guest_is_refused() {
        let module = command();
        let err = annotate(&module, metadata(), None).expect_err("refused");
        assert!(
            format!("{err:#}").contains("cannot compute the protocol version"),
            "{err:#}"
        );
    }

    #[test]
    fn a_wasi_module_needs_no_protocol_version() {
        let module = command();
        let mut metadata = metadata();
        metadata.execution_mode = ExecutionMode::Wasi;
        let annotated = annotate(&module, metadata, None).expect("annotates");
        let embedded = Metadata::from_module(&annotated)
            .expect("parses")
            .expect("has metadata");
        assert_eq!(embedded.protocol_version, Some(ProtocolVersion::Unknown));
    }
}
