#!/bin/sh
# Builds the static site from pages/*.txt into public/: the first line of a
# page is its title, every other line a paragraph. Run by the Containerfile as
# the unprivileged user builder; records who built it in public/build.txt.
set -eu
title=${SITE_TITLE:-hutch example}
mkdir -p public
nav=''
for page in pages/*.txt; do
  name=$(basename "$page" .txt)
  nav="$nav<a href=\"$name.html\">$(head -n 1 "$page")</a> "
done
for page in pages/*.txt; do
  name=$(basename "$page" .txt)
  {
    printf '<!doctype html>\n<html><head><meta charset="utf-8"><title>%s: %s</title></head>\n<body>\n' \
      "$title" "$(head -n 1 "$page")"
    printf '<nav>%s</nav>\n<h1>%s</h1>\n' "$nav" "$(head -n 1 "$page")"
    tail -n +2 "$page" | while IFS= read -r line; do printf '<p>%s</p>\n' "$line"; done
    printf '</body></html>\n'
  } >"public/$name.html"
done
{
  echo "built by: $(id)"
  echo "in: $(pwd)"
  echo "pages: $(cd public && ls *.html | tr '\n' ' ')"
} >public/build.txt
(cd public && sha256sum *.html build.txt) >public/SHA256SUMS
