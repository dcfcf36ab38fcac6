//! Custom sections of core wasm modules, read with wasmparser and written with
//! wasm-encoder. Every other section is copied byte for byte, so annotating a
//! module changes nothing but the section it sets.

use anyhow::{Context, bail};
use wasmparser::{Encoding, ExternalKind, Parser, Payload, TypeRef};

/// The data of the first custom section called `name`, if any. Fails on bytes
/// that are not a core wasm module.
pub fn custom_section<'a>(module: &'a [u8], name: &str) -> anyhow::Result<Option<&'a [u8]>> {
    for payload in Parser::new(0).parse_all(module) {
        match payload.context("not a valid wasm module")? {
            Payload::Version {
                encoding: Encoding::Component,
                ..
            } => bail!("wasm components are not supported, only core modules"),
            Payload::CustomSection(reader) if reader.name() == name => {
                return Ok(Some(reader.data()));
            }
            _ => {}
        }
    }
    Ok(None)
}

/// Whether `module` is a waPC guest: it imports functions from the `wapc`
/// host module and exports a function `__guest_call`. Fails on bytes that
/// are not a core wasm module.
pub fn is_wapc_guest(module: &[u8]) -> anyhow::Result<bool> {
    let (mut imports_wapc, mut exports_guest_call) = (false, false);
    for payload in Parser::new(0).parse_all(module) {
        match payload.context("not a valid wasm module")? {
            Payload::Version {
                encoding: Encoding::Component,
                ..
            } => bail!("wasm components are not supported, only core modules"),
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.context("not a valid wasm module")?;
                    if import.module == "wapc" && matches!(import.ty, TypeRef::Func(_)) {
                        imports_wapc = true;
                    }
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.context("not a valid wasm module")?;
                    if export.name == "__guest_call" && export.kind == ExternalKind::Func {
                        exports_guest_call = true;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(imports_wapc && exports_guest_call)
}

/// `module` with every custom section called `name` removed and one new
/// section `name` holding `data` appended at the end. The result is validated.
pub fn replace_custom_section(module: &[u8], name: &str, data: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = wasm_encoder::Module::new();
    for payload in Parser::new(0).parse_all(module) {
        let payload = payload.context("not a valid wasm module")?;
        match &payload {
            Payload::Version {
                encoding: Encoding::Component,
                ..
            } => bail!("wasm components are not supported, only core modules"),
            Payload::CustomSection(reader) if reader.name() == name => continue,
            _ => {}
        }
        if let Some((id, range)) = payload.as_section() {
            let data = module
                .get(range)
                .context("a section runs past the end of the module")?;
            out.section(&wasm_encoder::RawSection { id, data });
        }
    }
    out.section(&wasm_encoder::CustomSection {
        name: name.into(),
        data: data.into(),
    });
    let bytes = out.finish();
    wasmparser::Validator::new()
        .validate_all(&bytes)
        .context("the annotated module does not validate")?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(module (func (export "f")))` plus a custom section `keep` = "k".
    fn module() -> Vec<u8> {
        let mut m = wasm_encoder::Module::new();
        let mut types = wasm_encoder::TypeSection::new();
        types.ty().function([], []);
        m.section(&types);
        let mut funcs = wasm_encoder::FunctionSection::new();
        funcs.function(0);
        m.section(&funcs);
        let mut exports = wasm_encoder::ExportSection::new();
        exports.export("f", wasm_encoder::ExportKind::Func, 0);
        m.section(&exports);
        let mut code = wasm_encoder::CodeSection::new();
        let mut body = wasm_encoder::Function::new([]);
        body.instructions().end();
        code.function(&body);
        m.section(&code);
        m.section(&wasm_encoder::CustomSection {
            name: "keep".into(),
            data: b"k".as_slice().into(),
        });
        m.finish()
    }

    #[test]
    fn replacing_twice_leaves_one_section_and_keeps_the_rest() {
        let plain = module();
        let once = replace_custom_section(&plain, "meta", b"one").expect("first");
        let twice = replace_custom_section(&once, "meta", b"two").expect("second");
        assert_eq!(
            custom_section(&twice, "meta").expect("parses"),
            Some(b"two".as_slice())
        );
        assert_eq!(
            custom_section(&twice, "keep").expect("parses"),
            Some(b"k".as_slice())
        );
        assert_eq!(once.len(), twice.len(), "same-size data, same-size module");
        assert!(
            twice.starts_with(&plain),
            "the original sections are copied verbatim"
        );
    }

    #[test]
    fn a_module_without_the_wapc_imports_is_not_a_wapc_guest() {
        assert!(!is_wapc_guest(&module()).expect("parses"));
    }

    #[test]
    fn non_wasm_bytes_are_refused() {
        assert!(custom_section(b"not wasm", "meta").is_err());
        assert!(is_wapc_guest(b"not wasm").is_err());
        assert!(replace_custom_section(b"\0asm\x01\0\0\0garbage", "meta", b"x").is_err());
    }
}
