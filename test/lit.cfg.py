# lit configuration of the zamba2c regression suite.
import os
import lit.formats

config.name = "zamba2c"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir", ".test"]
config.excludes = ["fixtures", "unit", "lit.cfg.py", "lit.site.cfg.py", "Inputs"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.zamba2_obj_root, "test")

# Project tools first, then FileCheck/not/count from LLVM.
config.environment["PATH"] = os.pathsep.join(
    [config.zamba2_tools_dir, config.llvm_tools_dir, config.environment.get("PATH", os.environ.get("PATH", ""))])
config.substitutions.append(("%fixtures", os.path.join(config.zamba2_src_root, "test", "fixtures")))
config.substitutions.append(("%src_root", config.zamba2_src_root))
config.substitutions.append(("%python", "python3"))
# JIT execution of lowered IR (mlir-runner) needs MLIR's C runner utils.
config.substitutions.append(("%mlir_c_runner_utils", os.path.join(
    config.llvm_tools_dir, "..", "lib", "libmlir_c_runner_utils.so")))
# The upstream lowering that takes linalg on tensors to the LLVM dialect, for
# execution tests of single ops (the full CPU pipeline is zamba2c's own).
config.substitutions.append(("%lower_linalg_to_llvm", " ".join([
    "--one-shot-bufferize=bufferize-function-boundaries",
    "--convert-linalg-to-loops", "--convert-vector-to-scf",
    "--convert-math-to-llvm",
    "--convert-math-to-libm", "--convert-scf-to-cf",
    "--zamba2-expand-shape-to-cast",
    "--expand-strided-metadata", "--lower-affine",
    "--convert-vector-to-llvm", "--finalize-memref-to-llvm",
    "--convert-arith-to-llvm", "--convert-cf-to-llvm",
    "--convert-func-to-llvm", "--reconcile-unrealized-casts"])))

# The CUDA simulator (runtime/cudasim): a CUDA driver that runs a package's
# PTX on the CPU, for end-to-end tests of CUDA packages without a GPU.
config.substitutions.append(("%cudasim", os.path.join(
    config.zamba2_obj_root, "lib", "libzamba2_cudasim.so")))
if config.zamba2_has_cuda_toolkit:
    config.available_features.add("cuda-toolkit")
# The runtime as a shared library (runtime/engine: the C API).
config.substitutions.append(("%runtime_lib", os.path.join(
    config.zamba2_obj_root, "lib", "libzamba2_runtime.so")))
# test/run: the fake model library built by test/unit/engine (FakeModel.c),
# from which test/run/Inputs/fake_package.py makes package directories.
config.substitutions.append(("%fake_model_lib", os.path.join(
    config.zamba2_obj_root, "lib", "libzamba2_fake_model.so")))
