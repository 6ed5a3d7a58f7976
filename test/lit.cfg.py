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

if config.zamba2_has_cuda_toolkit:
    config.available_features.add("cuda-toolkit")
