//! Every `shaders/*.wgsl` is parsed and validated by naga, in each form the engine compiles it
//! (ops that read weights with each storage format's prelude, the linear ops after
//! `linear.wgsl`, the tiled matmul with both tile sizes). Needs no GPU: a shader error fails
//! `cargo test` on any machine.

use naga::valid::{Capabilities, ValidationFlags, Validator};
use tinychat::gpu::{
    shader_source, variants, weights_prelude, Op, WeightFormat, LINEAR_PRELUDE, SHADER_FILES,
    WEIGHTS_COMMON,
};

/// What every WebGPU adapter offers. naga gates `unpack2x16float` behind
/// SHADER_FLOAT16_IN_FLOAT32 for old OpenGL ES targets, but it is core WGSL (and wgpu grants it
/// on every Vulkan, Metal, DX12 and WebGPU device); nothing else optional is allowed.
const WEBGPU: Capabilities = Capabilities::SHADER_FLOAT16_IN_FLOAT32;

/// Parses and validates `src` with WebGPU's capabilities.
fn validate(name: &str, src: &str) -> naga::Module {
    let module = naga::front::wgsl::parse_str(src).unwrap_or_else(|e| {
        panic!("{name}: WGSL parse error:\n{}", e.emit_to_string(src));
    });
    Validator::new(ValidationFlags::all(), WEBGPU)
        .validate(&module)
        .unwrap_or_else(|e| panic!("{name}: invalid:\n{}", e.emit_to_string(src)));
    module
}

#[test]
fn every_shader_file_is_known_to_the_engine() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/shaders");
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .expect("shaders/ exists")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".wgsl"))
        .collect();
    on_disk.sort();
    let mut known: Vec<String> = SHADER_FILES.iter().map(|s| s.to_string()).collect();
    known.sort();
    assert_eq!(
        on_disk, known,
        "shaders/ and tinychat::gpu::SHADER_FILES disagree: add the new file to SHADER_FILES (and an Op)"
    );
    for op in Op::ALL {
        let file = format!("{}.wgsl", op.name());
        assert!(known.contains(&file), "{file} is missing");
        let text = std::fs::read_to_string(format!("{dir}/{file}")).unwrap();
        assert_eq!(text, op.source(), "{file}: include_str! is stale");
    }
    for f in WeightFormat::ALL {
        let file = format!("weights_{}.wgsl", f.name());
        let text = std::fs::read_to_string(format!("{dir}/{file}")).unwrap();
        assert_eq!(text, weights_prelude(f), "{file}: include_str! is stale");
    }
    let text = std::fs::read_to_string(format!("{dir}/linear.wgsl")).unwrap();
    assert_eq!(text, LINEAR_PRELUDE, "linear.wgsl: include_str! is stale");
    let text = std::fs::read_to_string(format!("{dir}/weights.wgsl")).unwrap();
    assert_eq!(text, WEIGHTS_COMMON, "weights.wgsl: include_str! is stale");
}

#[test]
fn every_shader_parses_and_validates() {
    let mut count = 0;
    for op in Op::ALL {
        for v in variants(op) {
            let name = format!("{}.wgsl ({v:?})", op.name());
            let module = validate(&name, &shader_source(op, v));
            let entry = module
                .entry_points
                .iter()
                .find(|e| e.name == "main")
                .unwrap_or_else(|| panic!("{name}: no entry point `main`"));
            assert_eq!(entry.stage, naga::ShaderStage::Compute, "{name}");
            // Workgroup sizes come from the `WG` override, except the tiled matmul's.
            let has_wg = module
                .overrides
                .iter()
                .any(|(_, o)| o.name.as_deref() == Some("WG"));
            assert_eq!(has_wg, op.workgroup_size().is_some(), "{name}: WG override");
            count += 1;
        }
    }
    // Every prelude was validated inside the modules above (they read the op's uniform).
    println!("validated {count} shader modules");
}

#[test]
fn an_invalid_shader_is_caught() {
    // The harness itself must fail on a bad shader (a type error naga reports at validation or
    // parse time), or the tests above prove nothing.
    let bad = "@compute @workgroup_size(1) fn main() { let x: u32 = 1.5; }";
    let parsed = naga::front::wgsl::parse_str(bad);
    let rejected = match parsed {
        Err(_) => true,
        Ok(m) => Validator::new(ValidationFlags::all(), WEBGPU)
            .validate(&m)
            .is_err(),
    };
    assert!(rejected);
}
