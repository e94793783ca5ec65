"""Read and override anekit's configuration for one block."""

from anekit import config

print(config.get().compile_limit)  # ANEKIT_COMPILE_LIMIT, default 119
with config.override(compile_limit=50):
    print(config.get().compile_limit)  # 50 inside the block
print(config.get().compile_limit)  # back to the environment's value
