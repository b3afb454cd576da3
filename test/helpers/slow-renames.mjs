/**
 * Preload for a CLI child process (NODE_OPTIONS="--import <this file>"): every fs.renameSync from
 * or into the directory AUDIT_TEST_SLOW_RENAMES_INTO (directly in it, not below) takes
 * AUDIT_TEST_SLOW_RENAME_MS longer (default 150), as on a slow or loaded disk. A directory
 * export's moves into place then take seconds, and two exports into one directory started at once
 * overlap there for sure. Renames elsewhere (inside the staging folder) are untouched.
 */
import fs from "node:fs";
import path from "node:path";

const dir = process.env.AUDIT_TEST_SLOW_RENAMES_INTO;
const ms = Number(process.env.AUDIT_TEST_SLOW_RENAME_MS ?? 150);
if (dir) {
  const rename = fs.renameSync;
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const inDir = (p) => path.dirname(path.resolve(String(p))) === path.resolve(dir);
  fs.renameSync = function slowRename(from, to) {
    if (inDir(from) || inDir(to)) Atomics.wait(cell, 0, 0, ms);
    return rename.call(this, from, to);
  };
}
