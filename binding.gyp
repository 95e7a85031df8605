{
  "targets": [
    {
      "target_name": "soc_torch",
      "sources": ["native/torch_addon.cc"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node scripts/libtorch-config.mjs include_dirs)"
      ],
      "libraries": ["<!@(node scripts/libtorch-config.mjs libraries)"],
      "defines": ["NAPI_EXPERIMENTAL", "NODE_API_EXPERIMENTAL_NOGC_ENV_OPT_OUT", "NAPI_CPP_EXCEPTIONS", "<!@(node scripts/libtorch-config.mjs defines)"],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=c++17"],
      "cflags_cc": ["-std=c++17", "-O2", "-w", "-fexceptions"]
    }
  ]
}
