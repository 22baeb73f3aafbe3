{
  "targets": [
    {
      "target_name": "vpnlab_native",
      "sources": ["native/vpnlab_native.c"],
      # N-API only (node_api.h): the binary keeps working across Node majors.
      # Version 8 is the first with napi_add_async_cleanup_hook (Node >= 14.8).
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
