{
  "variables": {
    "hutch_warnings": ["-Wall", "-Wextra", "-Werror", "-Wno-missing-field-initializers"]
  },
  "targets": [
    {
      "target_name": "hutch_native",
      "sources": [
        "native/addon.cc",
        "native/errors.cc",
        "native/wrappers.cc",
        "native/fs_wrappers.cc",
        "native/plan.cc",
        "native/plan_core.cc",
        "native/spawn.cc",
        "native/clone.cc",
        "native/sync.cc",
        "native/fd_passing.cc",
        "native/child.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags": ["<@(hutch_warnings)", "-fvisibility=hidden"],
      "cflags_cc": ["<@(hutch_warnings)", "-fvisibility=hidden", "-std=c++17"]
    },
    {
      "target_name": "hutch",
      "type": "executable",
      "sources": ["native/launcher.c"],
      "cflags": ["<@(hutch_warnings)", "-std=c11", "-D_GNU_SOURCE"],
      "ldflags": ["-static-pie"]
    },
    {
      "target_name": "hutch-monitor",
      "type": "executable",
      "sources": [
        "native/monitor.cc",
        "native/monitor_options.cc",
        "native/monitor_loop.cc",
        "native/monitor_attach.cc",
        "native/monitor_io.cc",
        "native/plan_core.cc",
        "native/clone.cc",
        "native/sync.cc",
        "native/fd_passing.cc",
        "native/child.cc"
      ],
      "cflags": ["<@(hutch_warnings)"],
      "cflags_cc": ["<@(hutch_warnings)", "-std=c++17", "-fno-exceptions"],
      "ldflags": ["-static-pie"]
    }
  ]
}
