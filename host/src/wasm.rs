//! Custom sections of core wasm modules, read with wasmparser and written with
//! wasm-encoder. Every other section is copied byte for byte, so annotating a
//! module changes nothing but the section it sets.

use anyhow::{Context, bail};
use wasmparser::{Encoding, Parser, Payload};

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
    fn non_wasm_bytes_are_refused() {
        assert!(custom_section(b"not wasm", "meta").is_err());
        assert!(replace_custom_section(b"\0asm\x01\0\0\0garbage", "meta", b"x").is_err());
    }
}
