#!/bin/sh
# The example image's entry point. `site show` (the default command) says who
# it runs as, what the first stage built, and proves the user cannot write
# outside its own files; `site serve` serves the pages with busybox httpd.
set -eu
root=${SITE_ROOT:-/srv/www}
case "${1:-show}" in
  show)
    echo "hutch example, running as: $(id)"
    echo "site root: $root, owned by $(stat -c %U:%G "$root")"
    sed 's/^/from the build stage, /' "$root/build.txt"
    if (cd "$root" && sha256sum -c -s SHA256SUMS); then echo "checksums: all pages intact"; fi
    if touch /etc/written-by-www 2>/dev/null; then
      echo "unexpected: $(id -un) could write to /etc" >&2
      exit 1
    fi
    echo "as $(id -un), writing to /etc is refused, as it should be"
    echo "--- $root/index.html ---"
    cat "$root/index.html"
    ;;
  serve)
    echo "serving $root on port ${PORT:-8080} as $(id -un)"
    exec httpd -f -v -p "${PORT:-8080}" -h "$root"
    ;;
  *)
    exec "$@"
    ;;
esac
